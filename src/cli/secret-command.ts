import { randomBytes } from 'node:crypto';
import { MIN_SECRET_BYTES } from '../config/constants';
import { UsageError, parseFlags } from './args';
import type { Command } from './types';
import { PROGRAM, renderCommandHelp } from './help';
import { EXIT } from './lifecycle';

/** Random bytes in a generated secret: exactly the minimum the loaders accept (HMAC-SHA256 key size). */
export const GENERATED_SECRET_BYTES = MIN_SECRET_BYTES;

/**
 * A new tunnel secret: {@link GENERATED_SECRET_BYTES} bytes from the CSPRNG, base64url without padding
 * (43 URL-safe characters for 32 bytes), so it survives env files, JSON and shell quoting unchanged.
 */
export function generateSecret(): string {
  return randomBytes(GENERATED_SECRET_BYTES).toString('base64url');
}

/** `mcp-tunnel secret generate`: prints a new secret and a newline on stdout. */
export const secretCommand: Command = {
  name: 'secret',
  summary: 'Tunnel secrets: `secret generate` prints a new random secret.',
  usage: `${PROGRAM} secret generate`,
  description:
    `Prints a new random tunnel secret (${GENERATED_SECRET_BYTES} random bytes, base64url: 43 characters) and a newline.\n` +
    `Put it in the gateway's tunnels[].secrets and in the proxy's secret file. Secrets shorter than\n` +
    `${MIN_SECRET_BYTES} bytes are refused at start-up.`,
  flags: [],
  options: [],
  notes: [
    'Example (rotation: add the new secret on the gateway first, then swap the proxy file):',
    `  umask 077; ${PROGRAM} secret generate > /etc/mcp-tunnel/tunnel-secret.new`,
  ],

  run(args, io) {
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError("missing subcommand (only 'generate' exists)");
    if (sub === '-h' || sub === '--help') {
      io.stdout.write(renderCommandHelp(secretCommand));
      return Promise.resolve(EXIT.ok);
    }
    if (sub !== 'generate') throw new UsageError(`unknown subcommand '${sub}' (only 'generate' exists)`);
    const { help } = parseFlags(rest, []);
    io.stdout.write(help ? renderCommandHelp(secretCommand) : `${generateSecret()}\n`);
    return Promise.resolve(EXIT.ok);
  },
};
