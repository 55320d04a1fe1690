import * as fs from 'node:fs';
import { ConfigError } from './errors';
import { secretProblem } from './checks';

/**
 * Reads and checks a tunnel secret file, as at start-up: trailing whitespace (an editor's or
 * `echo`'s newline) is never part of the secret; the secret must pass the same checks (length,
 * placeholder). Used again whenever the file changes.
 *
 * @throws ConfigError (`TUNNEL_CONFIG_INVALID`, key `secretFile`) when the file cannot be read or
 *   holds an unacceptable secret; the message never contains the secret.
 */
export function readSecretFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError({ key: 'secretFile', problem: `cannot be read (${code})`, value: file });
  }
  const secret = text.replace(/\s+$/, '');
  const problem = secretProblem(secret);
  if (problem !== null) {
    throw new ConfigError({ key: 'secretFile', problem: `the secret in this file ${problem}`, value: file });
  }
  return secret;
}
