import { parseArgs } from 'node:util';
import { AUDIT_ERROR, loadCheckpointVerifier } from '../audit';
import type * as VerifyModule from '../audit/verify';
import { hasCode } from '../errors';
import { UsageError } from './args';
import type { Command } from './types';
import { PROGRAM, renderCommandHelp } from './help';
import { EXIT } from './lifecycle';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when `audit verify` runs, not by every command (D88)
const verifyModule = (): typeof VerifyModule => require('../audit/verify') as typeof VerifyModule;

const VERIFY_FLAGS = [
  { name: 'hmac-key-file', type: 'string', valueName: 'FILE', env: null, doc: 'HMAC key file the checkpoints were signed with (audit.hmacKeyFile).' },
  { name: 'public-key', type: 'string', valueName: 'FILE', env: null, doc: 'PEM Ed25519 public key of audit.signingKeyFile.' },
] as const;

/**
 * `mcp-tunnel audit verify FILE [FILE…]`: checks the hash chain (and, given a key, the checkpoint
 * signatures) of audit trail files, oldest first. Exit 0 and a summary when intact; exit 1 and the
 * first problem (`TUNNEL_AUDIT_RECORD_*: …`) on stdout when not; exit 2 for a bad command line,
 * an unreadable file or an unusable key.
 */
export const auditCommand: Command = {
  name: 'audit',
  summary: 'Audit trails: `audit verify FILE…` checks the hash chain and checkpoint signatures.',
  usage: `${PROGRAM} audit verify FILE [FILE...] [--hmac-key-file FILE | --public-key FILE]`,
  description:
    'Reads audit records (JSON lines; other lines, such as logs sharing stdout, are skipped) from the files in the\n' +
    'order given - rotated files oldest first - and recomputes the hash chain. Prints the first edited, deleted,\n' +
    'inserted or reordered record, or a bad checkpoint signature, and exits 1; or prints "chain intact: ..." and\n' +
    'exits 0. Without a key, checkpoints are counted but not verified. See docs/audit.md.',
  flags: VERIFY_FLAGS,
  options: [],
  notes: [
    'Exit codes: 0 intact, 1 a problem was found, 2 bad command line, unreadable file or unusable key.',
    'Example (after logrotate):',
    `  ${PROGRAM} audit verify /var/log/mcp-tunnel/audit.log.1 /var/log/mcp-tunnel/audit.log --hmac-key-file /etc/mcp-tunnel/audit.key`,
  ],

  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === '-h' || sub === '--help') {
      io.stdout.write(renderCommandHelp(auditCommand));
      return EXIT.ok;
    }
    if (sub === undefined) throw new UsageError("missing subcommand (only 'verify' exists)");
    if (sub !== 'verify') throw new UsageError(`unknown subcommand '${sub}' (only 'verify' exists)`);
    const { values, positionals } = parseVerifyArgs(rest);
    if (values.help === true) {
      io.stdout.write(renderCommandHelp(auditCommand));
      return EXIT.ok;
    }
    if (positionals.length === 0) throw new UsageError('missing FILE (one or more audit trail files, oldest first)');
    const hmacKeyFile = values['hmac-key-file'];
    const publicKeyFile = values['public-key'];
    if (hmacKeyFile !== undefined && publicKeyFile !== undefined) throw new UsageError('give --hmac-key-file or --public-key, not both');

    try {
      const verifier = loadCheckpointVerifier({
        ...(hmacKeyFile === undefined ? {} : { hmacKeyFile }),
        ...(publicKeyFile === undefined ? {} : { publicKeyFile }),
      });
      const { describeVerifyResult, verifyAuditFiles } = verifyModule();
      const result = await verifyAuditFiles(positionals, { verifier });
      io.stdout.write(`${describeVerifyResult(result, verifier !== null).join('\n')}\n`);
      return result.ok ? EXIT.ok : EXIT.failure;
    } catch (err) {
      if (!hasCode(err, AUDIT_ERROR.keyInvalid) && !hasCode(err, AUDIT_ERROR.destinationFailed)) throw err;
      io.stderr.write(`${PROGRAM} audit verify: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
  },
};

function parseVerifyArgs(args: readonly string[]): {
  values: { help?: boolean; 'hmac-key-file'?: string; 'public-key'?: string };
  positionals: string[];
} {
  try {
    return parseArgs({
      args: [...args],
      options: { help: { type: 'boolean', short: 'h' }, 'hmac-key-file': { type: 'string' }, 'public-key': { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    const message = (err as { message?: unknown } | null)?.message;
    throw new UsageError(typeof message === 'string' ? message : String(err));
  }
}
