import { PassThrough } from 'node:stream';
import { NEVER } from 'rxjs';

/** A `ReplayIo` for the replay commands that captures stdout and stderr together; no signals. */
export function captureIo(): { stdout: PassThrough; stderr: PassThrough; out: () => string; signals$: typeof NEVER } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  stderr.on('data', (c: Buffer) => chunks.push(c));
  return { stdout, stderr, out: () => Buffer.concat(chunks).toString('utf8'), signals$: NEVER };
}
