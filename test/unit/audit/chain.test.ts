import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { AuditChain, CHECKPOINT_TYPE, GENESIS_PREV, canonicalJson, canonicalRecord, checkpointSigningInput, recordHash } from '../../../src/audit/chain';
import { ed25519Signer, ed25519Verifier, hmacSigner, hmacVerifier } from '../../../src/audit/keys';

const parse = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;
const fixedNow = (): Date => new Date('2026-01-02T03:04:05.000Z');

describe('canonicalJson (RFC 8785 for JSON-parsed values)', () => {
  it('sorts keys recursively, keeps array order, no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [3, { d: null, c: true }], é: 'x', B: 'y' })).toBe(
      '{"B":"y","a":[3,{"c":true,"d":null}],"b":1,"é":"x"}',
    );
  });

  it('serialises numbers and strings like JSON.stringify', () => {
    expect(canonicalJson([1e21, 0.1, -0, 12.345, 'a"\n\u2028'])).toBe('[1e+21,0.1,0,12.345,"a\\"\\n\u2028"]');
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson({ a: undefined })).toThrow(TypeError);
  });
});

describe('canonicalRecord (the hash input, D81)', () => {
  /** Deterministic generator (no Math.random: a failure must reproduce). */
  function* values(seed: number): Generator<unknown> {
    let x = seed;
    const next = (n: number): number => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x % n;
    };
    const keys = ['a', 'B', 'é', 'zz', '_x', 'rid', '7', '10', '\u2028', 'a\u0000b', '\ud800', 'Z1', 'x"y', ''];
    const scalars: unknown[] = [null, true, false, 0, -0, 1e21, 0.1, -12.5, 2 ** 53, '', 'x', 'line\nbreak', '\ud83d\ude00', '\udc00'];
    const gen = (depth: number): unknown => {
      const kind = depth > 2 ? 0 : next(4);
      if (kind === 0 || kind === 1) return scalars[next(scalars.length)];
      if (kind === 2) return Array.from({ length: next(4) }, () => gen(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = next(6); i > 0; i--) o[keys[next(keys.length)]!] = gen(depth + 1);
      return o;
    };
    for (;;) {
      const o: Record<string, unknown> = {};
      for (let i = next(8) + 1; i > 0; i--) o[keys[next(keys.length)]!] = gen(1);
      if (next(3) === 0) o['hash'] = 'h';
      yield JSON.parse(JSON.stringify(o));
    }
  }

  it('equals the recursive canonical JSON of the record without `hash` on 2,000 generated records', () => {
    const it = values(7);
    for (let i = 0; i < 2000; i++) {
      const record = it.next().value as Record<string, unknown>;
      const { hash: _skipped, ...rest } = record;
      expect(canonicalRecord(record, 'hash')).toBe(canonicalJson(rest));
    }
  });

  it('orders digit keys by code unit (not as array indices) and hashes a __proto__ member', () => {
    const record = JSON.parse('{"b":1,"10":2,"2":3,"__proto__":{"x":1},"a":{"1":true,"0":false}}') as Record<string, unknown>;
    expect(canonicalRecord(record, 'hash')).toBe('{"10":2,"2":3,"__proto__":{"x":1},"a":{"0":false,"1":true},"b":1}');
    const nested = JSON.parse('{"p":[{"__proto__":1}],"q":2}') as Record<string, unknown>;
    expect(canonicalRecord(nested, 'hash')).toBe('{"p":[{"__proto__":1}],"q":2}');
  });

  it("reuses a shape's order only for that shape (more shapes than the cache holds, interleaved)", () => {
    for (let round = 0; round < 3; round++) {
      for (let n = 1; n <= 12; n++) {
        const record: Record<string, unknown> = {};
        for (let k = n; k > 0; k--) record[`k${k}`] = k * round;
        const { hash: _none, ...rest } = record;
        expect(canonicalRecord(record, 'hash')).toBe(canonicalJson(rest));
        expect(canonicalRecord(record, `k${n}`)).toBe(canonicalJson(Object.fromEntries(Object.entries(record).filter(([k]) => k !== `k${n}`))));
      }
    }
    expect(canonicalRecord({}, 'hash')).toBe('{}');
    expect(canonicalRecord({ hash: 'only' }, 'hash')).toBe('{}');
  });

  it('refuses what JSON cannot hold, as canonicalJson does', () => {
    expect(() => canonicalRecord({ a: undefined }, 'hash')).toThrow(TypeError);
    expect(() => canonicalRecord({ a: Number.NaN }, 'hash')).toThrow(TypeError);
    expect(() => canonicalRecord({ a: 1n }, 'hash')).toThrow(TypeError);
  });

  it('a change inside __proto__ changes the hash (it is hashed, not dropped)', () => {
    const a = JSON.parse('{"rid":"r","__proto__":{"x":1}}') as Record<string, unknown>;
    const b = JSON.parse('{"rid":"r","__proto__":{"x":2}}') as Record<string, unknown>;
    expect(recordHash(a)).not.toBe(recordHash(b));
  });
});

describe('AuditChain', () => {
  it('appends chain, seq, prev and hash to each line, keeping the bytes before them', () => {
    const chain = new AuditChain({ id: 'c1' });
    const line1 = '{"level":30,"audit":true,"rid":"a","msg":"audit"}\n';
    const out1 = chain.seal(line1);
    expect(out1.startsWith('{"level":30,"audit":true,"rid":"a","msg":"audit",')).toBe(true);
    expect(out1.endsWith('}\n')).toBe(true);
    const r1 = parse(out1);
    expect(r1).toMatchObject({ chain: 'c1', seq: 1, prev: GENESIS_PREV });
    expect(r1.hash).toBe(recordHash(r1));
    expect(r1.hash).toMatch(/^[0-9a-f]{64}$/);

    const r2 = parse(chain.seal('{"audit":true,"rid":"b"}'));
    expect(r2).toMatchObject({ seq: 2, prev: r1.hash });
    expect(chain.seq).toBe(2);
    expect(chain.lastHash).toBe(r2.hash);
  });

  it('hashes the canonical form: key order and spacing do not matter, content does', () => {
    const r = parse(new AuditChain({ id: 'c' }).seal('{"b":1,"a":2}'));
    const reordered = { hash: r.hash, prev: r.prev, seq: r.seq, chain: r.chain, a: 2, b: 1 };
    expect(recordHash(reordered)).toBe(r.hash);
    expect(recordHash({ ...reordered, a: 3 })).not.toBe(r.hash);
  });

  it('leaves a non-JSON line alone and does not advance', () => {
    const chain = new AuditChain();
    expect(chain.seal('not json\n')).toBe('not json\n');
    expect(chain.seq).toBe(0);
  });

  it('rewrites a line whose chain key is spelled with an escape (one `seq` member after parsing)', () => {
    const out = new AuditChain({ id: 'c' }).seal('{"s\\u0065q":"mine","audit":true}\n');
    const r = parse(out);
    expect(r.seq).toBe(1);
    expect(out).not.toContain('\\u0065');
    expect(r.hash).toBe(recordHash(r));
  });

  it('rewrites a line that already has a chain key instead of duplicating it', () => {
    const out = new AuditChain({ id: 'c' }).seal('{"seq":"mine","audit":true}\n');
    const r = parse(out);
    expect(r.seq).toBe(1);
    expect(out.match(/"seq":/g)).toHaveLength(1);
    expect(r.hash).toBe(recordHash(r));
  });

  it('writes no checkpoints without a signer', () => {
    const chain = new AuditChain({ every: 1 });
    expect(chain.seal('{"a":1}\n').split('\n')).toHaveLength(2);
    expect(chain.checkpoint()).toBeNull();
  });

  it('adds a signed checkpoint after every N records, in the chain', () => {
    const key = randomBytes(32);
    const chain = new AuditChain({ id: 'c', signer: hmacSigner(key), every: 2, now: fixedNow, pid: 7 });
    const first = chain.seal('{"a":1}\n');
    expect(first.split('\n')).toHaveLength(2); // one line
    const second = chain.seal('{"a":2}\n');
    const [rec, cp, end] = second.split('\n');
    expect(end).toBe('');
    const record = parse(rec!);
    const checkpoint = parse(cp!);
    expect(checkpoint).toMatchObject({
      type: CHECKPOINT_TYPE,
      audit: true,
      time: '2026-01-02T03:04:05.000Z',
      pid: 7,
      alg: 'hmac-sha256',
      chain: 'c',
      seq: 3,
      prev: record.hash,
    });
    expect(checkpoint.hash).toBe(recordHash(checkpoint));
    expect(hmacVerifier(key).verify(checkpointSigningInput(checkpoint), checkpoint.sig as string)).toBe(true);
    expect(hmacVerifier(randomBytes(32)).verify(checkpointSigningInput(checkpoint), checkpoint.sig as string)).toBe(false);
    // Nothing new since: no checkpoint on demand.
    expect(chain.checkpoint()).toBeNull();
    chain.seal('{"a":3}\n');
    expect(parse(chain.checkpoint()!)).toMatchObject({ type: CHECKPOINT_TYPE, seq: 5 });
  });

  it('signs with Ed25519; the public key verifies, another does not', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const chain = new AuditChain({ signer: ed25519Signer(privateKey), every: 0 });
    chain.seal('{"a":1}\n');
    const cp = parse(chain.checkpoint()!);
    expect(cp.alg).toBe('ed25519');
    const verifier = ed25519Verifier(publicKey);
    expect(cp.keyId).toBe(verifier.keyId);
    expect(verifier.verify(checkpointSigningInput(cp), cp.sig as string)).toBe(true);
    expect(verifier.verify(checkpointSigningInput({ ...cp, prev: GENESIS_PREV }), cp.sig as string)).toBe(false);
    expect(ed25519Verifier(generateKeyPairSync('ed25519').publicKey).verify(checkpointSigningInput(cp), cp.sig as string)).toBe(false);
  });
});
