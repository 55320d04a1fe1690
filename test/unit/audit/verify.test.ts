import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain, canonicalJson, recordHash, type CheckpointSigner } from '../../../src/audit/chain';
import { AUDIT_ERROR, AUDIT_VERIFY } from '../../../src/audit/errors';
import { ed25519Signer, ed25519Verifier, hmacSigner, hmacVerifier } from '../../../src/audit/keys';
import { describeVerifyResult, verifyAuditFiles, type VerifyOptions } from '../../../src/audit/verify';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-verify-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Sealed lines of `n` gateway-like records (plus any checkpoints), without trailing newlines. */
function trail(n: number, opts: { signer?: CheckpointSigner; every?: number; chain?: AuditChain; from?: number } = {}): string[] {
  const chain = opts.chain ?? new AuditChain({ id: 'c1', signer: opts.signer ?? null, every: opts.every ?? 0 });
  const out: string[] = [];
  for (let i = opts.from ?? 1; i < (opts.from ?? 1) + n; i++) {
    const line = JSON.stringify({ level: 30, time: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, audit: true, side: 'gateway', rid: `r${i}`, status: 200, msg: 'audit' });
    out.push(...chain.seal(`${line}\n`).split('\n').filter((l) => l !== ''));
  }
  return out;
}

function write(name: string, lines: readonly string[], trailingNewline = true): string {
  const file = join(dir, name);
  writeFileSync(file, lines.join('\n') + (trailingNewline && lines.length > 0 ? '\n' : ''));
  return file;
}

async function check(lines: readonly string[], opts: VerifyOptions = {}, trailingNewline = true) {
  return verifyAuditFiles([write('audit.log', lines, trailingNewline)], opts);
}

const parse = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

/** Re-seals `record` as an attacker who recomputes its hash (but has no signing key). */
function rehash(record: Record<string, unknown>): string {
  const copy = { ...record };
  delete copy.hash;
  return JSON.stringify({ ...copy, hash: recordHash(copy) });
}

describe('verifyAuditFiles', () => {
  it('passes an untouched trail and skips log lines that are not audit records', async () => {
    const lines = trail(5);
    lines.splice(2, 0, '{"level":30,"msg":"gateway listening"}', 'plain text from somewhere', '');
    const result = await check(lines);
    expect(result).toMatchObject({ ok: true, problem: null, records: 5, skippedLines: 2 });
    expect(describeVerifyResult(result, false)).toEqual([
      'chain intact: 5 records, seq 1..5, 0 checkpoints not verified (no --hmac-key-file / --public-key given)',
    ]);
  });

  it('passes records whose strings hold U+2028, U+2029, U+0085 or a CR-LF file (Node 24 readline split at the first two)', async () => {
    const chain = new AuditChain({ id: 'c1', signer: null, every: 0 });
    const lines = ['id-\u2028x', 'tool\u2029y', 'next\u0085line', 'plain'].flatMap((rid) =>
      chain.seal(`${JSON.stringify({ level: 30, audit: true, side: 'gateway', rid, msg: 'audit' })}\n`).split('\n').filter((l) => l !== ''),
    );
    expect(lines.join('\n')).toContain('\u2028'); // written raw, as JSON.stringify does
    expect(await check(lines)).toMatchObject({ ok: true, records: 4 });
    const crlf = join(dir, 'crlf.log');
    writeFileSync(crlf, `${lines.join('\r\n')}\r\n`);
    expect(await verifyAuditFiles([crlf])).toMatchObject({ ok: true, records: 4 });
  });

  it('passes an empty file', async () => {
    const result = await check([]);
    expect(result.ok).toBe(true);
    expect(result.records).toBe(0);
    expect(describeVerifyResult(result, true)).toEqual(['chain intact: 0 records (no audit records in the files; 0 other lines skipped)']);
  });

  it('catches an edited record: hash mismatch at its seq and line', async () => {
    const lines = trail(5);
    lines[2] = lines[2]!.replace('"status":200', '"status":403');
    const { ok, problem } = await check(lines);
    expect(ok).toBe(false);
    expect(problem).toMatchObject({ code: AUDIT_VERIFY.recordEdited, seq: 3, line: 3 });
    expect(problem?.message).toBe(`edited record: hash mismatch at seq 3, line 3 of ${join(dir, 'audit.log')}`);
  });

  it('catches a deleted record as a seq gap', async () => {
    const lines = trail(5);
    lines.splice(2, 1);
    const { problem } = await check(lines);
    expect(problem).toMatchObject({ code: AUDIT_VERIFY.recordMissing, seq: 4, line: 3 });
    expect(problem?.message).toMatch(/^deleted record: seq gap 2→4 between line 2 of .* and line 3 of .* \(seq 3 is missing\)$/);
  });

  it('catches several deleted records, and a deleted record that was re-hashed', async () => {
    const lines = trail(6);
    lines.splice(1, 3);
    expect((await check(lines)).problem?.message).toMatch(/seq gap 1→5 .*\(seq 2\.\.4 are missing\)/);

    // Renumbering the rest without the key re-hashes every record: the links give it away.
    const again = trail(4);
    again.splice(1, 1);
    const moved = parse(again[1]!);
    const fixed = rehash({ ...moved, seq: 2 });
    const { problem } = await check([again[0]!, fixed, again[2]!]);
    expect(problem).toMatchObject({ code: AUDIT_VERIFY.recordInserted, seq: 2, line: 2 });
    expect(problem?.message).toMatch(/^prev mismatch at seq 2, line 2 of .*: it does not link to seq 1 at line 1/);
  });

  it('catches an inserted record: a duplicate seq, or a forged one that does not link', async () => {
    const lines = trail(4);
    const dup = [...lines.slice(0, 3), lines[2]!, lines[3]!];
    expect((await check(dup)).problem).toMatchObject({ code: AUDIT_VERIFY.recordInserted, seq: 3, line: 4 });
    expect((await check(dup)).problem?.message).toMatch(/^duplicate seq 3 at line 3 of .* and line 4 of /);

    const forged = rehash({ ...parse(lines[1]!), rid: 'forged', prev: '1'.repeat(64) });
    const { problem } = await check([lines[0]!, forged, ...lines.slice(2)]);
    expect(problem).toMatchObject({ code: AUDIT_VERIFY.recordInserted, seq: 2, line: 2 });
  });

  it('catches reordered records: adjacent swap, a record moved later, seq going backwards', async () => {
    const lines = trail(5);
    const swapped = [lines[0]!, lines[2]!, lines[1]!, lines[3]!, lines[4]!];
    const { problem } = await check(swapped);
    expect(problem).toMatchObject({ code: AUDIT_VERIFY.recordReordered, seq: 3, line: 2 });
    expect(problem?.message).toMatch(/^records out of order: seq 3 \(line 2 of .*\) comes before seq 2 \(line 3 of /);

    const movedLater = [lines[0]!, lines[2]!, lines[3]!, lines[4]!, lines[1]!];
    expect((await check(movedLater)).problem).toMatchObject({ code: AUDIT_VERIFY.recordReordered });

    const backwards = [lines[0]!, lines[1]!, lines[2]!, lines[0]!];
    expect((await check(backwards)).problem?.message).toMatch(/^records out of order: seq goes backwards from 3 .* to 1 /);
  });

  it('reports a truncated last line, and a damaged line in the middle', async () => {
    const lines = trail(3);
    const cut = [...lines.slice(0, 2), lines[2]!.slice(0, 60)];
    const truncated = await check(cut, {}, false);
    expect(truncated.problem).toMatchObject({ code: AUDIT_VERIFY.recordDamaged, line: 3 });
    expect(truncated.problem?.message).toMatch(/^truncated audit record \(the last line is incomplete\) at line 3 /);

    const middle = [lines[0]!, lines[1]!.slice(0, 60), lines[2]!];
    expect((await check(middle)).problem?.message).toMatch(/^damaged audit record \(not valid JSON\) at line 2 /);

    const unchained = [lines[0]!, '{"audit":true,"rid":"x","msg":"audit"}'];
    expect((await check(unchained)).problem).toMatchObject({ code: AUDIT_VERIFY.recordDamaged, line: 2 });
  });

  it('verifies HMAC checkpoints; a forged checkpoint or the wrong key fails', async () => {
    const key = randomBytes(32);
    const lines = trail(5, { signer: hmacSigner(key), every: 2 });
    expect(lines).toHaveLength(7);
    const good = await check(lines, { verifier: hmacVerifier(key) });
    expect(good).toMatchObject({ ok: true, records: 7, checkpointsVerified: 2 });
    expect(describeVerifyResult(good, true)).toEqual([
      'chain intact: 7 records, seq 1..7, 2 checkpoints verified',
      'chain c1: the last 1 record is after its last checkpoint (covered by the hash chain only)',
    ]);
    expect((await check(lines)).checkpointsUnverified).toBe(2);

    const wrongKey = await check(lines, { verifier: hmacVerifier(randomBytes(32)) });
    expect(wrongKey.problem).toMatchObject({ code: AUDIT_VERIFY.checkpointInvalid, seq: 3, line: 3 });
    expect(wrongKey.problem?.message).toMatch(/^checkpoint at seq 3, line 3 of .* is signed with hmac-sha256 key [0-9a-f]{16}, not the given hmac-sha256 key/);

    // The attacker edits record 1 and re-hashes everything after it; only the signature can tell.
    const records = lines.map(parse);
    let prev = '';
    const rewritten = records.map((r, i) => {
      const next = { ...r, ...(i === 0 ? { status: 500 } : { prev }) };
      const line = rehash(next);
      prev = parse(line).hash as string;
      return line;
    });
    const forged = await check(rewritten, { verifier: hmacVerifier(key) });
    expect(forged.problem).toMatchObject({ code: AUDIT_VERIFY.checkpointInvalid, seq: 3 });
    expect(forged.problem?.message).toMatch(/^bad checkpoint signature at seq 3, line 3 /);
  });

  it('verifies Ed25519 checkpoints with the public key only', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const lines = trail(3, { signer: ed25519Signer(privateKey), every: 3 });
    expect((await check(lines, { verifier: ed25519Verifier(publicKey) })).checkpointsVerified).toBe(1);
    const other = await check(lines, { verifier: ed25519Verifier(generateKeyPairSync('ed25519').publicKey) });
    expect(other.problem?.code).toBe(AUDIT_VERIFY.checkpointInvalid);
    const hmac = await check(lines, { verifier: hmacVerifier(randomBytes(32)) });
    expect(hmac.problem?.message).toMatch(/signed with ed25519 key .* not the given hmac-sha256 key/);
  });

  it('follows a chain across rotated files: each alone, both in order, not in reverse', async () => {
    const chain = new AuditChain({ id: 'rot' });
    const old = write('audit.log.1', trail(3, { chain }));
    const current = write('audit.log', trail(3, { chain, from: 4 }));

    const alone = await verifyAuditFiles([current]);
    expect(alone.ok).toBe(true);
    expect(alone.chains).toEqual([expect.objectContaining({ chain: 'rot', firstSeq: 4, lastSeq: 6 })]);
    expect(describeVerifyResult(alone, false)[1]).toMatch(/^chain rot starts at seq 4 linked to prev [0-9a-f]{64} /);

    const both = await verifyAuditFiles([old, current]);
    expect(both).toMatchObject({ ok: true, records: 6 });
    expect(both.chains[0]).toMatchObject({ firstSeq: 1, lastSeq: 6, linkedPrev: null });

    const reversed = await verifyAuditFiles([current, old]);
    expect(reversed.problem).toMatchObject({ code: AUDIT_VERIFY.recordReordered, file: old, line: 1 });
  });

  it('checks interleaved chains (two writers, or a restart appending to the same file) separately', async () => {
    const a = trail(3, { chain: new AuditChain({ id: 'aaaa' }) });
    const b = trail(2, { chain: new AuditChain({ id: 'bbbb' }) });
    const result = await check([a[0]!, b[0]!, a[1]!, b[1]!, a[2]!]);
    expect(result).toMatchObject({ ok: true, records: 5 });
    expect(describeVerifyResult(result, false)[0]).toBe(
      'chain intact: 5 records in 2 chains, 0 checkpoints not verified (no --hmac-key-file / --public-key given)',
    );
  });

  it('refuses an unreadable file before reading any', async () => {
    const file = write('audit.log', trail(2));
    await expect(verifyAuditFiles([file, join(dir, 'missing.log')])).rejects.toMatchObject({
      code: AUDIT_ERROR.destinationFailed,
    });
  });

  it('hash is SHA-256 of the canonical JSON without the hash member (the documented rule)', () => {
    const [line] = trail(1);
    const record = parse(line!);
    const { hash, ...rest } = record;
    expect(hash).toBe(createHash('sha256').update(canonicalJson(rest)).digest('hex'));
  });
});
