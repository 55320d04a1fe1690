import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { GENESIS_PREV } from '../../../src/audit/chain';
import { openAuditDestination } from '../../../src/audit/destination';
import { hmacSigner, hmacVerifier } from '../../../src/audit/keys';
import { type GatewayAuditRecord } from '../../../src/audit/records';
import { verifyAuditFiles } from '../../../src/audit/verify';
import { gatewayAuditRecord } from '../../helpers/audit-record';

const record: GatewayAuditRecord = gatewayAuditRecord();

let dir: string;
const quiet: Logger = pino({ level: 'silent' });
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-audit-chain-'));
});
afterEach(() => {
  jest.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

function readLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('audit destination hash chain', () => {
  it('chains every record in write order; the file verifies', async () => {
    const file = join(dir, 'audit.log');
    const audit = openAuditDestination(file, { log: quiet, chain: { id: 'abc' } });
    for (let i = 1; i <= 50; i++) audit.write({ ...record, rid: `r-${i}` });
    expect(audit.position()).toMatchObject({ chain: 'abc', seq: 50 });
    await audit.close();
    const lines = readLines(file);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(lines.map((l) => l.rid)).toEqual(Array.from({ length: 50 }, (_, i) => `r-${i + 1}`));
    expect(lines[0]).toMatchObject({ chain: 'abc', prev: GENESIS_PREV, msg: 'audit' });
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 50 });
  });

  it('reopen() after a rename continues the chain in a new file (logrotate)', async () => {
    const file = join(dir, 'audit.log');
    const rotated = join(dir, 'audit.log.1');
    const audit = openAuditDestination(file, { log: quiet });
    for (let i = 0; i < 3; i++) audit.write(record);
    await audit.flush();
    renameSync(file, rotated);
    audit.reopen();
    for (let i = 0; i < 2; i++) audit.write(record);
    await audit.close();

    const oldLines = readLines(rotated);
    const newLines = readLines(file);
    expect(oldLines.map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(newLines.map((l) => l.seq)).toEqual([4, 5]);
    expect(newLines[0]?.prev).toBe(oldLines[2]?.hash);

    const alone = await verifyAuditFiles([file]);
    expect(alone.ok).toBe(true);
    expect(alone.chains[0]).toMatchObject({ firstSeq: 4, linkedPrev: oldLines[2]?.hash });
    expect(await verifyAuditFiles([rotated, file])).toMatchObject({ ok: true, records: 5 });
  });

  it('two destinations in one process keep their own chain, file and lifetime (no shared module state)', async () => {
    const a = openAuditDestination(join(dir, 'a.log'), { log: quiet, chain: { id: 'aaa' } });
    const b = openAuditDestination(join(dir, 'b.log'), { log: quiet, chain: { id: 'bbb' } });
    a.write(record);
    b.write(record);
    b.write(record);
    await a.close();
    expect(b.write(record)).toBe(true);
    expect(a.write(record)).toBe(false); // closed
    await b.close();
    expect(a.position()).toMatchObject({ chain: 'aaa', seq: 1 });
    expect(b.position()).toMatchObject({ chain: 'bbb', seq: 3 });
    expect(readLines(join(dir, 'a.log')).map((l) => l.chain)).toEqual(['aaa']);
    expect(readLines(join(dir, 'b.log')).map((l) => l.seq)).toEqual([1, 2, 3]);
  });

  it('reopen() of stdout is a no-op', () => {
    const audit = openAuditDestination('stderr', { log: quiet });
    expect(() => audit.reopen()).not.toThrow();
  });

  it('writes signed checkpoints every N records, every interval, and on close; clears the timer', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'setTimeout', 'clearTimeout', 'Date', 'performance', 'hrtime'] });
    const key = randomBytes(32);
    const file = join(dir, 'audit.log');
    const audit = openAuditDestination(file, { log: quiet, chain: { signer: hmacSigner(key), every: 3, intervalMs: 1000 } });
    expect(jest.getTimerCount()).toBe(1);
    for (let i = 0; i < 3; i++) audit.write(record); // checkpoint by count after the 3rd
    jest.advanceTimersByTime(1000); // nothing new since: no checkpoint
    audit.write(record);
    jest.advanceTimersByTime(1000); // checkpoint by time
    audit.write(record);
    await audit.close(); // final checkpoint
    expect(jest.getTimerCount()).toBe(0);

    const lines = readLines(file);
    expect(lines.map((l) => (l.type === 'checkpoint' ? 'C' : 'r')).join('')).toBe('rrrCrCrC');
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const result = await verifyAuditFiles([file], { verifier: hmacVerifier(key) });
    expect(result).toMatchObject({ ok: true, records: 8, checkpointsVerified: 3 });
    expect(result.chains[0]?.unsignedTail).toBe(0);
  });

  it('writes no checkpoint and starts no timer without a signer', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'setTimeout', 'clearTimeout', 'Date', 'performance', 'hrtime'] });
    const file = join(dir, 'audit.log');
    const audit = openAuditDestination(file, { log: quiet, chain: { every: 1, intervalMs: 10 } });
    expect(jest.getTimerCount()).toBe(0);
    audit.write(record);
    await audit.close();
    expect(readLines(file).map((l) => l.type ?? 'r')).toEqual(['r']);
  });
});
