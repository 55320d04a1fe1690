import { createHash } from 'node:crypto';
import type { GatewayAuditRecord, RequestAudit } from '../../src/audit';
import { pinsMore } from '../../src/chunk-memory';
import { BodyDigest } from '../../src/gateway/body';
import { keptChunk } from '../../src/replay/recorder';

/**
 * One rule decides whether a forwarded chunk is kept by reference or copied (`pinsMore`): the audit's
 * body digest and the recorder's inline writer both use it, and agree at its boundary.
 */
describe('pinsMore', () => {
  it('is true only when the parent memory is more than twice the chunk', () => {
    const parent = new ArrayBuffer(200);
    expect(pinsMore(new Uint8Array(parent))).toBe(false);
    expect(pinsMore(Buffer.from(parent, 0, 100))).toBe(false); // exactly half
    expect(pinsMore(Buffer.from(parent, 100, 99))).toBe(true);
    expect(pinsMore(new Uint8Array(parent, 1, 0))).toBe(true);
  });

  /** The digest of the first chunk after its parent was overwritten: by reference it sees the write. */
  function digestAfterOverwrite(chunk: Buffer, parent: Buffer): string | null | undefined {
    const d = new BodyDigest('response', null);
    d.update(chunk);
    parent.fill(2);
    let fields: Partial<GatewayAuditRecord> = {};
    d.record({ annotate: (f: Partial<GatewayAuditRecord>) => (fields = f) } as unknown as RequestAudit<GatewayAuditRecord>, undefined);
    return fields.responseSha256;
  }
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  it.each([
    ['exactly half of its parent', 100, false],
    ['just under half of its parent', 99, true],
  ])('BodyDigest and keptChunk make the same choice for a chunk %s', (_name, length, copied) => {
    const parent = Buffer.from(new ArrayBuffer(200)).fill(1);
    expect(pinsMore(parent.subarray(0, length))).toBe(copied);

    const kept = keptChunk(parent.subarray(0, length));
    expect(kept.bytes.buffer === parent.buffer).toBe(!copied);
    expect(kept.size).toBe(copied ? length : 200);

    const digest = digestAfterOverwrite(parent.subarray(0, length), parent);
    expect(digest).toBe(sha(Buffer.alloc(length, copied ? 1 : 2)));
  });
});
