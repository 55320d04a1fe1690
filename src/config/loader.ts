import * as fs from 'node:fs';
import * as path from 'node:path';
import convict from 'convict';
import { describeError } from '../errors';
import { ConfigError, isSecretKey } from './errors';
import { FieldProblem, InvalidJson, isPlainObject, parseJsonSafely, type Plain } from './checks';
import { formatSpec } from './formats';

/** Where a loader reads from; later sources win: defaults < file < env < overrides. */
export interface LoadOptions {
  /** JSON config file. Relative file paths inside it resolve against its folder. */
  file?: string;
  /** Environment to read `MCP_TUNNEL_*` from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Highest-precedence values (CLI flags, tests), by key path: either dotted (`{ 'listen.port': 0 }`)
   * or nested (`{ listen: { port: 0 } }`). `undefined` values are ignored.
   */
  overrides?: Record<string, unknown>;
}

/** One row of a schema description, for help output and docs. */
export interface ConfigOptionRow {
  /** Dotted key path, as used in the JSON config file. */
  key: string;
  /** Environment variable, or null for keys settable only in the config file. */
  env: string | null;
  /** The default value (null = unset). */
  default: unknown;
  /** The default as shown to people (`8080`, `(none)`, `the host name`). */
  defaultText: string;
  doc: string;
  /** The value is a secret (masked in errors, `[Sensitive]` in convict's toString). */
  sensitive: boolean;
}

interface Leaf extends ConfigOptionRow {
  format: string;
}

/** Key names whose primitive values stay readable in errors even inside a sensitive key. */
const NON_SECRET_FIELDS: ReadonlySet<string> = new Set(['id', 'name', 'tunnel', 'url', 'servers']);

function isLeafNode(node: unknown): node is Plain {
  return isPlainObject(node) && 'default' in node;
}

function defaultText(value: unknown): string {
  if (value === null) return '(none)';
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value);
}

/** Flattens a convict schema into its leaves, in declaration order. */
export function schemaLeaves(schema: object, prefix = ''): Leaf[] {
  const out: Leaf[] = [];
  for (const [name, node] of Object.entries(schema)) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (isLeafNode(node)) {
      out.push({
        key,
        env: typeof node.env === 'string' ? node.env : null,
        default: node.default,
        defaultText: typeof node.defaultText === 'string' ? node.defaultText : defaultText(node.default),
        doc: typeof node.doc === 'string' ? node.doc : '',
        sensitive: node.sensitive === true,
        format: typeof node.format === 'string' ? node.format : '',
      });
    } else if (isPlainObject(node)) {
      out.push(...schemaLeaves(node, key));
    }
  }
  return out;
}

/** The public rows of a schema (without the internal format name). */
export function describeSchema(schema: object): ConfigOptionRow[] {
  return schemaLeaves(schema).map(({ format: _format, ...row }) => row);
}

function readJsonFile(file: string): Plain {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? describeError(err);
    throw new ConfigError({ key: file, problem: `cannot be read (${code})`, cause: err });
  }
  const parsed = parseJsonSafely(text);
  // No `cause` and no excerpt: the file holds secrets.
  if (parsed instanceof InvalidJson) throw new ConfigError({ key: file, problem: parsed.detail });
  if (!isPlainObject(parsed)) throw new ConfigError({ key: file, problem: 'must contain a JSON object' });
  return parsed;
}

function allLeavesDefaultNull(node: Plain): boolean {
  return schemaLeaves(node).every((leaf) => leaf.default === null);
}

/**
 * Matches `input` against the schema and lists [leaf key, value] pairs. Unknown keys are errors
 * (a typo must not silently fall back to a default).
 */
function collectEntries(input: Plain, schemaNode: Plain, prefix: string, out: Array<[string, unknown]>): void {
  for (const [rawKey, value] of Object.entries(input)) {
    if (value === undefined) continue;
    let node: unknown = schemaNode;
    let key = prefix;
    for (const segment of rawKey.split('.')) {
      key = key === '' ? segment : `${key}.${segment}`;
      if (!isPlainObject(node) || isLeafNode(node) || !Object.hasOwn(node, segment)) {
        throw new ConfigError({ key, problem: 'is not a known option' });
      }
      node = node[segment];
    }
    if (isLeafNode(node)) {
      out.push([key, value]);
    } else if (isPlainObject(node)) {
      // `"tls": null` means "no TLS": leave every leaf below at its null default.
      if (value === null && allLeavesDefaultNull(node)) continue;
      if (!isPlainObject(value)) throw new ConfigError({ key, problem: 'must be an object' });
      collectEntries(value, node, key, out);
    }
  }
}

function valueAt(root: unknown, key: string): unknown {
  let node = root;
  for (const segment of key.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[segment];
  }
  return node;
}

/** Whether a sub-value of a sensitive key must be masked: yes, unless it is a plain id or name. */
function subValueIsSecret(subPath: string, value: unknown): boolean {
  if (value !== null && typeof value === 'object') return true;
  const named = subPath.replace(/\[\d+\]/g, '').split('.').filter((s) => s !== '');
  const last = named[named.length - 1];
  return last === undefined || !NON_SECRET_FIELDS.has(last);
}

function validateLeaves(properties: unknown, leaves: readonly Leaf[]): void {
  for (const leaf of leaves) {
    const spec = formatSpec(leaf.format);
    if (spec === undefined) continue;
    const value = valueAt(properties, leaf.key);
    try {
      spec.validate(value);
    } catch (err) {
      if (err instanceof FieldProblem && err.sub !== undefined) {
        throw new ConfigError({
          key: `${leaf.key}${err.sub.path}`,
          problem: err.problem,
          value: err.sub.value,
          sensitive: leaf.sensitive && subValueIsSecret(err.sub.path, err.sub.value),
        });
      }
      const shown = value instanceof InvalidJson ? undefined : value;
      throw new ConfigError({ key: leaf.key, problem: describeError(err), value: shown, sensitive: leaf.sensitive });
    }
  }
}

/**
 * Builds a convict config from `schema` and the sources in `opts`, validates every key, and returns
 * the raw properties. Throws ConfigError for the first problem found (in schema order).
 */
export function loadWithSchema<T>(schema: convict.Schema<T>, opts: LoadOptions): T {
  const leaves = schemaLeaves(schema);
  const byKey = new Map(leaves.map((leaf) => [leaf.key, leaf]));
  const config = convict<T>(schema, { env: opts.env ?? process.env, args: [] });
  // Keys come from the schema walk, so they are valid paths; the typed Path<T> cannot express that.
  const untyped = config as unknown as convict.Config<Record<string, unknown>>;
  const set = (key: string, value: unknown): void => {
    untyped.set(key, value);
  };

  if (opts.file !== undefined) {
    const entries: Array<[string, unknown]> = [];
    collectEntries(readJsonFile(opts.file), schema, '', entries);
    const baseDir = path.dirname(path.resolve(opts.file));
    for (const [key, value] of entries) {
      const resolvePaths = formatSpec(byKey.get(key)?.format ?? '')?.resolvePaths;
      set(key, resolvePaths === undefined ? value : resolvePaths(value, baseDir));
    }
    // convict re-imports the environment on load: env vars override the file.
    config.load({});
  }

  if (opts.overrides !== undefined) {
    const entries: Array<[string, unknown]> = [];
    collectEntries(opts.overrides, schema, '', entries);
    for (const [key, value] of entries) set(key, value);
  }

  const properties = config.getProperties();
  validateLeaves(properties, leaves);
  try {
    // Second line of defence; everything it checks was checked above.
    config.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError({ key: 'config', problem: describeError(err) });
  }
  return properties;
}

/** Throws ConfigError unless `file` is a readable regular file (the path is left out for key files). */
export function checkReadableFile(key: string, file: string): void {
  let problem: string | null = null;
  try {
    fs.accessSync(file, fs.constants.R_OK);
    if (!fs.statSync(file).isFile()) problem = 'must name a regular file';
  } catch (err) {
    problem = `file cannot be read (${(err as NodeJS.ErrnoException).code ?? describeError(err)})`;
  }
  if (problem !== null) throw new ConfigError({ key, problem, value: isSecretKey(key) ? undefined : file });
}
