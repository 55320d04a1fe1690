import convict from 'convict';
import { checkInteger, checkNotJsonError, checkOptionalString, coerceBoolean, coerceInteger, coerceList, coerceOptional, fail, isValidName, parseJsonSafely, resolveFile, validateStringList } from './checks';
import { LOG_FORMATS, LOG_LEVELS } from './constants';
import { parseOpsListen } from '../ops/listen-address';
import type * as GatewayFormats from './gateway-formats';
import type * as PolicyModule from './policy';
import { coercePinList, resolveUpstreamServers, validateEgressRules, validatePins, validateUpstreamServers } from './proxy-formats';

// The gateway's checks (and node:crypto, the policy rules) load when a gateway value is first
// checked: a proxy never loads them (D88).
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading, as in src/cli/runners.ts */
const gw = (): typeof GatewayFormats => require('./gateway-formats') as typeof GatewayFormats;
const policy = (): typeof PolicyModule => require('./policy') as typeof PolicyModule;
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The custom convict formats of the schemas, by name: how each value is coerced from a string (env
 * var, override) and validated. The checks live by side (gateway-formats.ts, proxy-formats.ts) on
 * top of the shared blocks in checks.ts.
 */

interface FormatSpec {
  /** Throws FieldProblem (or Error) when the value is unacceptable. */
  validate: (value: unknown) => void;
  /** Turns a string (from an env var, an override, or a file) into the typed value. */
  coerce?: (raw: string) => unknown;
  /** Rewrites relative file paths in a value read from a config file against the file's folder. */
  resolvePaths?: (value: unknown, baseDir: string) => unknown;
}

// ---------------------------------------------------------------------------------------------

/** The formats the schemas use, by convict format name. */
export const FORMATS = {
  'mcp-tunnel-port': { validate: (v) => checkInteger(v, 0, 65535), coerce: coerceInteger },
  'mcp-tunnel-nat': { validate: (v) => checkInteger(v, 0), coerce: coerceInteger },
  'mcp-tunnel-positive-int': { validate: (v) => checkInteger(v, 1), coerce: coerceInteger },
  'mcp-tunnel-boolean': {
    validate: (v) => {
      if (typeof v !== 'boolean') fail('must be true or false');
    },
    coerce: coerceBoolean,
  },
  'mcp-tunnel-text': {
    validate: (v) => {
      if (typeof v !== 'string') fail('must be a string');
      if (v.trim() === '') fail('must not be empty');
    },
  },
  'mcp-tunnel-log-level': {
    validate: (v) => {
      if (typeof v !== 'string' || !(LOG_LEVELS as readonly string[]).includes(v)) fail(`must be one of ${LOG_LEVELS.join(', ')}`);
    },
    coerce: (raw) => raw.trim().toLowerCase(),
  },
  'mcp-tunnel-log-format': {
    validate: (v) => {
      if (typeof v !== 'string' || !(LOG_FORMATS as readonly string[]).includes(v)) fail(`must be one of ${LOG_FORMATS.join(', ')}`);
    },
    coerce: (raw) => raw.trim().toLowerCase(),
  },
  'mcp-tunnel-ops-listen': {
    validate: (v) => {
      checkOptionalString(v);
      if (typeof v === 'string') {
        try {
          parseOpsListen(v);
        } catch (err) {
          fail((err as Error).message);
        }
      }
    },
    coerce: coerceOptional,
  },
  'mcp-tunnel-optional-string': { validate: checkOptionalString, coerce: coerceOptional },
  'mcp-tunnel-optional-path': { validate: checkOptionalString, coerce: coerceOptional, resolvePaths: resolveFile },
  'mcp-tunnel-tunnels': { validate: (v) => gw().validateTunnels(v), coerce: parseJsonSafely },
  'mcp-tunnel-servers': { validate: (v) => gw().validateServers(v), coerce: parseJsonSafely },
  'mcp-tunnel-clients': { validate: (v) => gw().validateClients(v), coerce: parseJsonSafely },
  'mcp-tunnel-jwt': { validate: (v) => gw().validateJwt(v), coerce: (raw) => (raw.trim() === '' ? null : parseJsonSafely(raw)), resolvePaths: (v, dir) => gw().resolveJwtPaths(v, dir) },
  'mcp-tunnel-optional-url': { validate: (v) => gw().validateOptionalUrl(v), coerce: coerceOptional },
  'mcp-tunnel-pins': { validate: validatePins, coerce: coercePinList },
  'mcp-tunnel-upstream-servers': {
    validate: validateUpstreamServers,
    coerce: parseJsonSafely,
    resolvePaths: resolveUpstreamServers,
  },
  'mcp-tunnel-egress-rules': { validate: validateEgressRules, coerce: coerceList },
  'mcp-tunnel-allowed-hosts': { validate: (v) => gw().validateAllowedHosts(v), coerce: coerceList },
  'mcp-tunnel-allowed-origins': { validate: (v) => gw().validateAllowedOrigins(v), coerce: coerceList },
  'mcp-tunnel-json-paths': {
    validate: (v) => {
      checkNotJsonError(v);
      if (!Array.isArray(v)) fail('must be a list of dot paths (comma-separated, or a JSON array of strings)');
      v.forEach((p, i) => {
        if (typeof p !== 'string' || !/^(\*|[A-Za-z0-9_$-]+)(\.(\*|[A-Za-z0-9_$-]+))*$/.test(p)) {
          fail('must be a dot path like params.arguments.password (* for any key)', { path: `[${i}]`, value: p });
        }
      });
    },
    coerce: coerceList,
  },
  // `record` (src/config/record.ts, docs/replay.md).
  'mcp-tunnel-string-list': { validate: (v) => validateStringList(v, 'non-empty strings', (e) => e.trim() !== ''), coerce: coerceList },
  'mcp-tunnel-optional-names': {
    validate: (v) => {
      if (v !== null) validateStringList(v, 'server names', isValidName);
    },
    coerce: (raw) => (raw.trim() === '' ? null : coerceList(raw)),
  },
  'mcp-tunnel-json-pointers': { validate: (v) => validateStringList(v, 'JSON Pointers like /params/arguments/password', (e) => /^(\/([^~]|~[01])*)+$/.test(e)), coerce: coerceList },
  'mcp-tunnel-regexes': { validate: (v) => validateStringList(v, 'valid regular expressions', isRegex), coerce: parseJsonSafely },
  'mcp-tunnel-policy-rules': {
    validate: (v) => {
      checkNotJsonError(v);
      policy().validatePolicyRules(v, fail);
    },
    coerce: parseJsonSafely,
  },
} satisfies Record<string, FormatSpec>;

function isRegex(source: string): boolean {
  try {
    new RegExp(source, 'g');
    return source !== '';
  } catch {
    return false;
  }
}

export type FormatName = keyof typeof FORMATS;

/** The format registered under `name`, or undefined for a name not defined here. */
export function formatSpec(name: string): FormatSpec | undefined {
  return (FORMATS as Record<string, FormatSpec | undefined>)[name];
}

// convict keeps formats in a process-wide registry; the prefixed names cannot clash with others.
for (const [name, spec] of Object.entries(FORMATS) as Array<[string, FormatSpec]>) {
  convict.addFormat({ name, validate: (v: unknown) => spec.validate(v), coerce: spec.coerce });
}
