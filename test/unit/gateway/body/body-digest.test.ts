import { createHash } from 'node:crypto';
import type { GatewayAuditRecord, RequestAudit } from '../../../../src/audit';
import { BodyDigest } from '../../../../src/gateway/body';

/** The fields `record` annotates (the audit itself is not under test here). */
function digestOf(chunks: Buffer[], direction: 'request' | 'response' = 'response'): Partial<GatewayAuditRecord> {
  const d = new BodyDigest(direction, null);
  for (const c of chunks) d.update(c);
  let fields: Partial<GatewayAuditRecord> = {};
  const audit = { annotate: (f: Partial<GatewayAuditRecord>) => (fields = { ...fields, ...f }) } as unknown as RequestAudit<GatewayAuditRecord>;
  d.record(audit, 'application/json');
  d.record(audit, 'application/json'); // only the first call counts
  return fields;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('BodyDigest', () => {
  const big = Buffer.alloc(256 * 1024, 7);
  it.each([
    ['no chunk', [] as Buffer[]],
    ['one chunk', [Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}')]],
    ['two chunks', [Buffer.from('{"a":'), Buffer.from('1}')]],
    ['many chunks', Array.from({ length: 50 }, (_, i) => Buffer.from(`chunk ${i};`))],
    ['a small slice of a large buffer', [big.subarray(10, 1034)]],
    ['a large slice of a larger buffer', [big.subarray(0, 100 * 1024)]],
    ['a slice, then more', [big.subarray(0, 20 * 1024), Buffer.from('tail')]],
  ])('is the SHA-256 of every byte forwarded: %s', (_name, chunks) => {
    expect(digestOf(chunks)).toEqual({ responseSha256: sha(Buffer.concat(chunks)) });
  });

  it('names the request fields for a request body', () => {
    expect(digestOf([Buffer.from('x')], 'request')).toEqual({ requestSha256: sha(Buffer.from('x')) });
  });

  it('does not keep a small slice by reference: a later write to the large buffer does not change the digest', () => {
    const buf = Buffer.alloc(64 * 1024, 1);
    const d = new BodyDigest('response', null);
    d.update(buf.subarray(0, 100));
    buf.fill(2);
    let fields: Partial<GatewayAuditRecord> = {};
    d.record({ annotate: (f: Partial<GatewayAuditRecord>) => (fields = f) } as unknown as RequestAudit<GatewayAuditRecord>, undefined);
    expect(fields.responseSha256).toBe(sha(Buffer.alloc(100, 1)));
  });
});
