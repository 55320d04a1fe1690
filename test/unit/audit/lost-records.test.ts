import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Subject } from 'rxjs';
import { AuditChain } from '../../../src/audit/chain';
import { AUDIT_MAX_BUFFERED_BYTES, openAuditDestination, type AuditDestination } from '../../../src/audit/destination';
import { AUDIT_ERROR } from '../../../src/audit/errors';
import { LostRecords } from '../../../src/audit/lost-records';
import type { AuditRecord, ProxyAuditRecord } from '../../../src/audit/records';
import { auditSink } from '../../../src/audit/trail';
import { waitFor } from '../../helpers';

/**
 * Records an audit destination loses after its write returned (D83): a per-turn batch whose
 * write throws, lines dropped past the 8 MiB buffer. They count like failed single writes.
 */

function memoryLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void raw.push(s) });
  return { log, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const record = (rid: string, upstream = 'http://docs.internal/mcp'): ProxyAuditRecord => ({
  side: 'proxy',
  rid,
  tunnel: 'corp',
  server: 'docs',
  upstream,
  httpMethod: 'POST',
  status: 200,
  outcome: 'ok',
  errorCode: null,
  egress: null,
  bytesIn: 1,
  bytesOut: 2,
  durationMs: 3,
});

describe('LostRecords', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-lost-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Two sealed record lines and a signed checkpoint line, as a batch holds them. */
  function batch(): string {
    const chain = new AuditChain({ signer: { alg: 'hmac-sha256', keyId: 'k', sign: () => 'sig' }, every: 2 });
    const line = (rid: string): string => `${JSON.stringify({ level: 30, audit: true, rid, msg: 'audit' })}\n`;
    return chain.seal(line('r-a')) + chain.seal(line('r-b'));
  }

  it('a batch whose write throws (a destroyed stream): each record logged like a failed single write and counted; nothing thrown; the next batch is attempted', async () => {
    const lines = batch();
    expect(lines.split('\n').filter((l) => l !== '')).toHaveLength(3); // two records and a checkpoint

    const { log, lines: opLines } = memoryLogger();
    const lost = new LostRecords(log);
    let counted = 0;
    const remove = lost.listen(() => counted++);
    // A real synchronous stream on a real file, ended underneath: its write throws.
    const stream = pino.destination({ dest: join(dir, 'audit.log'), sync: true });
    stream.end();
    expect(() => stream.write('x\n')).toThrow();

    expect(() => lost.write(stream, lines)).not.toThrow();
    expect(counted).toBe(2); // the checkpoint is not a record
    expect(opLines().map((l) => l.rid)).toEqual(['r-a', 'r-b']);

    // The line a failed single write of the destination logs (a record written after close).
    const single = memoryLogger();
    const audit = openAuditDestination(join(dir, 'single.log'), { log: single.log });
    await audit.close();
    expect(audit.write(record('r-single'))).toBe(false);
    const expected = single.lines()[0]!;
    expect(expected).toMatchObject({ code: AUDIT_ERROR.writeFailed, level: 50 });
    for (const l of opLines()) {
      expect(Object.keys(l).sort()).toEqual(Object.keys(expected).sort());
      expect(l).toMatchObject({ code: expected.code, level: expected.level, msg: expected.msg });
      expect((l.err as { message: string }).message).toMatch(/destroyed/);
    }

    lost.write(stream, lines); // attempted again, reported again
    expect(counted).toBe(4);
    remove();
    lost.write(stream, lines);
    expect(counted).toBe(4);
  });

  it('a batch that is written counts nothing', () => {
    const lost = new LostRecords(pino({ level: 'silent' }));
    let counted = 0;
    lost.listen(() => counted++);
    const file = join(dir, 'ok.log');
    const stream = pino.destination({ dest: file, sync: true });
    lost.write(stream, batch());
    stream.end();
    expect(counted).toBe(0);
    expect(readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')).toHaveLength(3);
  });
});

// /dev/full fails every write with ENOSPC; past 8 MiB the stream drops: every dropped record is a
// write failure for the metric (the sink's onWriteFailed), in both write modes.
(existsSync('/dev/full') ? describe.each([true, false]) : describe.skip.each([true, false]))(
  'records dropped by a failing audit file (sync: %s)',
  (sync) => {
    const opened: AuditDestination[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((d) => d.close()));
    });

    it('count in the sink’s write failures; the drop warning counts records; nothing thrown', async () => {
      const { log, lines } = memoryLogger();
      const audit = openAuditDestination('/dev/full', { log, sync });
      opened.push(audit);
      const source = new Subject<AuditRecord>();
      let failures = 0;
      const errors: unknown[] = [];
      const sub = auditSink(source, audit.logger, log, () => failures++).subscribe({ error: (e: unknown) => errors.push(e) });

      const upstream = `http://docs.internal/${'x'.repeat(64 * 1024)}`;
      const records = Math.ceil(AUDIT_MAX_BUFFERED_BYTES / (64 * 1024)) + 16;
      for (let i = 0; i < records; i++) expect(() => source.next(record(`r-${i}`, upstream))).not.toThrow();
      await waitFor(() => lines().some((l) => l.code === AUDIT_ERROR.destinationFailed), { message: 'the write error reported' });
      await audit.flush();

      const warned = lines().filter((l) => l.code === AUDIT_ERROR.recordsDropped);
      expect(warned.length).toBeGreaterThan(0);
      expect(failures).toBeGreaterThanOrEqual(16);
      expect(failures).toBeLessThan(records);
      expect(warned[0]!.dropped).toBe(1);
      expect(errors).toEqual([]);

      // Unsubscribed: the sink no longer hears the destination.
      sub.unsubscribe();
      const before = failures;
      audit.logger.info(record('r-after', upstream), 'audit');
      await audit.flush();
      expect(failures).toBe(before);
    });
  },
);
