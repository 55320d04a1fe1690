import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describeError } from '../../errors';
import { F, type Logger } from '../../log';
import type { JwtAlgorithm } from '../../config/types';
import { AuthCode, AuthError } from './errors';
import { keyFitsAlgorithm } from './jwt';

/** Largest JWKS document read (URL or file). */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** Time allowed for one JWKS fetch (connect, headers and body). */
export const JWKS_FETCH_TIMEOUT_MS = 5000;

interface Jwk {
  kid: string | null;
  alg: string | null;
  key: KeyObject;
}

export interface JwksSourceOptions {
  url: string | null;
  file: string | null;
  /** A loaded set is used this long before it is loaded again. */
  cacheSec: number;
  /** Least time between loads caused by a token with an unknown `kid`. */
  refetchSec: number;
  logger: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  fetchTimeoutMs?: number;
}

/** Turns a JWK set document into verification keys; unusable entries are skipped. */
export function parseJwks(doc: unknown): { keys: Jwk[]; skipped: number } {
  const list = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list)) throw new Error('not a JWK set (no "keys" array)');
  const keys: Jwk[] = [];
  let skipped = 0;
  for (const jwk of list as unknown[]) {
    if (typeof jwk !== 'object' || jwk === null) {
      skipped++;
      continue;
    }
    const j = jwk as Record<string, unknown>;
    const ops = j.key_ops;
    // Symmetric ("oct") keys are never used: the gateway verifies asymmetric signatures only.
    if (j.kty === 'oct' || (j.use !== undefined && j.use !== 'sig') || (Array.isArray(ops) && !ops.includes('verify'))) {
      skipped++;
      continue;
    }
    try {
      // createPublicKey also accepts a private JWK and keeps only its public part.
      const key = createPublicKey({ key: j as JsonWebKey, format: 'jwk' });
      keys.push({ kid: typeof j.kid === 'string' ? j.kid : null, alg: typeof j.alg === 'string' ? j.alg : null, key });
    } catch {
      skipped++;
    }
  }
  return { keys, skipped };
}

async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new Error(`JWKS larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The issuer's signing keys, from a JWKS URL or file. Loaded on first use, kept `cacheSec`, loaded
 * again early when a token names an unknown `kid` (at most once per `refetchSec`, so forged `kid`s
 * cannot make the gateway hammer the issuer). Concurrent lookups share one load. When a reload
 * fails the previous keys stay in use; with none at all, lookups fail with TUNNEL_AUTH_UNAVAILABLE.
 */
export class JwksSource {
  private keys: Jwk[] | null = null;
  private loadedAt = 0;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | null = null;
  private lastError: unknown = null;
  private readonly aborts = new Set<AbortController>();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly opts: JwksSourceOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Keys that may have signed a token with this `kid` (any key when the token names none) and `alg`.
   * Empty when none fits even after a permitted reload.
   * @throws AuthError TUNNEL_AUTH_UNAVAILABLE when no key set could ever be loaded.
   */
  async candidates(kid: string | null, alg: JwtAlgorithm): Promise<KeyObject[]> {
    const stale = this.keys === null || this.now() - this.loadedAt >= this.opts.cacheSec * 1000;
    // Failed loads are retried at most once per refetchSec too: an unreachable issuer is not hammered.
    if (stale && (this.loading !== null || this.mayLoad())) await this.load(this.keys === null ? 'first use' : 'cache expired');
    if (this.keys === null) {
      throw new AuthError(AuthCode.unavailable, 'the token signing keys (JWKS) are unavailable; try again later', {
        retryAfter: Math.max(1, this.opts.refetchSec),
        cause: this.lastError,
      });
    }
    let found = this.select(kid, alg);
    if (found.length === 0 && kid !== null && this.mayLoad()) {
      await this.load('unknown kid');
      found = this.select(kid, alg);
    }
    return found;
  }

  private mayLoad(): boolean {
    return this.now() - this.lastAttemptAt >= this.opts.refetchSec * 1000;
  }

  /** Aborts a JWKS fetch in flight (gateway shutdown / configuration replaced). */
  close(): void {
    this.closed = true;
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
  }

  private select(kid: string | null, alg: JwtAlgorithm): KeyObject[] {
    return (this.keys ?? []).filter((k) => (kid === null || k.kid === kid) && (k.alg === null || k.alg === alg) && keyFitsAlgorithm(k.key, alg)).map((k) => k.key);
  }

  private load(why: string): Promise<void> {
    this.loading ??= this.loadOnce(why).finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async loadOnce(why: string): Promise<void> {
    this.lastAttemptAt = this.now();
    const source = this.opts.url ?? this.opts.file ?? '';
    const log = this.opts.logger;
    try {
      if (this.closed) throw new Error('closed');
      const text = this.opts.url !== null ? await this.fetchText(this.opts.url) : await this.readFileText(this.opts.file ?? '');
      const { keys, skipped } = parseJwks(JSON.parse(text));
      if (keys.length === 0) throw new Error(`no usable signing key (${skipped} skipped)`);
      this.keys = keys;
      this.loadedAt = this.now();
      log.info({ [F.url]: source, keys: keys.length, skipped, why }, 'JWKS loaded');
    } catch (err) {
      this.lastError = err;
      const reason = describeError(err);
      if (this.keys !== null) {
        log.warn({ [F.code]: AuthCode.unavailable, [F.url]: source, [F.reason]: reason, why }, 'JWKS reload failed; keeping the keys loaded before');
      } else {
        log.error({ [F.code]: AuthCode.unavailable, [F.url]: source, [F.reason]: reason, why }, 'JWKS could not be loaded');
      }
    }
  }

  private async fetchText(url: string): Promise<string> {
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(new Error(`timed out after ${this.opts.fetchTimeoutMs ?? JWKS_FETCH_TIMEOUT_MS} ms`)), this.opts.fetchTimeoutMs ?? JWKS_FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(url, { signal: abort.signal, headers: { accept: 'application/jwk-set+json, application/json' }, redirect: 'error' });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      return await readLimited(res.body, MAX_JWKS_BYTES);
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
    }
  }

  private async readFileText(file: string): Promise<string> {
    const buf = await readFile(file);
    if (buf.length > MAX_JWKS_BYTES) throw new Error(`JWKS file larger than ${MAX_JWKS_BYTES} bytes`);
    return buf.toString('utf8');
  }
}
