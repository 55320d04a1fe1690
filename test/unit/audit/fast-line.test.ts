import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { openAuditDestination } from '../../../src/audit/destination';
import { fastAuditLine } from '../../../src/audit/fast-line';
import { hmacSigner, hmacVerifier } from '../../../src/audit/keys';
import { sanitizeAuditRecord, type GatewayAuditRecord } from '../../../src/audit/records';
import { FAST_AUDIT_WRITE } from '../../../src/audit/trail';
import { verifyAuditFiles } from '../../../src/audit/verify';
import { gatewayAuditRecord } from '../../helpers/audit-record';

const record: GatewayAuditRecord = gatewayAuditRecord({
  jsonrpcId: 'id-\u2028"\\',
  policy: { decision: 'allow', rule: 'docs-read' },
  requestSha256: 'a'.repeat(64),
});

let dir: string;
const quiet: Logger = pino({ level: 'silent' });
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-audit-fast-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
/** A line without its time and chain fields, for comparing the two paths. */
const comparable = (line: string): Record<string, unknown> => {
  const { time: _t, chain: _c, seq: _s, prev: _p, hash: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
  return rest;
};

describe('audit fast line', () => {
  it('parses back to exactly the object it was built from', () => {
    const fast = fastAuditLine(sanitizeAuditRecord(record) as unknown as Record<string, unknown>, 42, new Date(0).toISOString())!;
    expect(JSON.parse(fast.line)).toEqual(fast.parsed);
    expect(Object.keys(fast.parsed).slice(0, 4)).toEqual(['level', 'time', 'audit', 'pid']);
    expect(Object.keys(fast.parsed).at(-1)).toBe('msg');
  });

  it('takes an array of strings (the conns of a resumed SSE response)', () => {
    const fast = fastAuditLine({ ...(sanitizeAuditRecord(record) as unknown as Record<string, unknown>), resumptions: 1, conns: ['c-1', 'c-2'] }, 1, new Date(0).toISOString())!;
    expect(JSON.parse(fast.line)).toEqual(fast.parsed);
    expect(fast.parsed['conns']).toEqual(['c-1', 'c-2']);
  });

  it('writes a resumed response (conns) as the pino path does', async () => {
    const file = join(dir, 'audit.log');
    const audit = openAuditDestination(file, { log: quiet });
    const resumed = { ...record, resumptions: 1, conns: ['c-1', 'c-2'] };
    audit.write(resumed); // fast path
    audit.logger.info(sanitizeAuditRecord(resumed), 'audit'); // pino path
    await audit.close();
    const [a, b] = lines(file);
    expect(comparable(a!)).toEqual(comparable(b!));
    expect(comparable(a!)['conns']).toEqual(['c-1', 'c-2']);
  });

  it('declines what redaction or a JSON round trip could change', () => {
    const base = sanitizeAuditRecord(record) as unknown as Record<string, unknown>;
    for (const odd of [
      { requestBody: { secret: 'x' } },
      { policy: { decision: 'allow', key: 'k' } },
      { durationMs: Number.NaN },
      { bytesIn: -0 },
      { tool: ['a', 1] },
      { conns: [{ key: 'k' }] },
      { policy: new Date(0) },
    ]) {
      expect(fastAuditLine({ ...base, ...odd }, 1, new Date(0).toISOString())).toBeNull();
    }
  });

  it('writes the same record as the pino path, and a trail mixing both paths verifies', async () => {
    const file = join(dir, 'audit.log');
    const key = Buffer.alloc(32, 7);
    const audit = openAuditDestination(file, { log: quiet, chain: { signer: hmacSigner(key), every: 3 } });
    audit.write(record); // fast path
    audit.logger.info(sanitizeAuditRecord(record), 'audit'); // pino path, as before the fast path
    audit.write({ ...record, requestBody: { secret: 'hunter2' } }); // body: pino path, redacted (*.secret)
    audit.write({ ...record, rid: 'r-2' });
    await audit.close();
    const all = lines(file);
    const records = all.filter((l) => !l.includes('"type":"checkpoint"'));
    expect(records).toHaveLength(4);
    expect(comparable(records[0]!)).toEqual(comparable(records[1]!));
    expect(records[2]).not.toContain('hunter2');
    expect(records[2]).toContain('[redacted]');
    const result = await verifyAuditFiles([file], { verifier: hmacVerifier(key) });
    expect(result).toMatchObject({ ok: true, records: all.length });
    expect(result.checkpointsVerified).toBeGreaterThan(0);
  });

  it('is offered on the destination logger only', () => {
    const audit = openAuditDestination(join(dir, 'a.log'), { log: quiet });
    expect(typeof (audit.logger as unknown as Record<symbol, unknown>)[FAST_AUDIT_WRITE]).toBe('function');
    expect((quiet as unknown as Record<symbol, unknown>)[FAST_AUDIT_WRITE]).toBeUndefined();
    return audit.close();
  });
});
