/**
 * Test issuer: key pairs made with node:crypto, a JWK set for them, and compact JWS signing —
 * so JWT tests need no library and can forge every kind of bad token.
 */
import { constants, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type TestAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface TestKey {
  kid: string;
  alg: TestAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Public JWK with `kid`, `alg` and `use`. */
  jwk: Record<string, unknown>;
}

export function makeKey(alg: TestAlg, kid: string = randomUUID()): TestKey {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  if (alg.startsWith('RS') || alg === 'PS256') pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  else if (alg === 'ES256') pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else if (alg === 'ES384') pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  else pair = generateKeyPairSync('ed25519');
  return { kid, alg, ...pair, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

export function jwks(...keys: TestKey[]): { keys: Array<Record<string, unknown>> } {
  return { keys: keys.map((k) => k.jwk) };
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Signs `claims` with `key` (header `alg`/`kid` from the key unless overridden). */
export function signJwt(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = { alg: key.alg, typ: 'JWT', kid: key.kid, ...header };
  const input = `${b64(h)}.${b64(claims)}`;
  const data = Buffer.from(input);
  let sig: Buffer;
  switch (key.alg) {
    case 'ES256':
    case 'ES384':
      sig = sign(key.alg === 'ES256' ? 'sha256' : 'sha384', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
      break;
    case 'PS256':
      sig = sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
      break;
    case 'EdDSA':
      sig = sign(null, data, key.privateKey);
      break;
    default:
      sig = sign(`sha${key.alg.slice(2)}`, data, key.privateKey);
  }
  return `${input}.${sig.toString('base64url')}`;
}

/** `alg: none`: no signature at all. */
export function unsignedJwt(claims: Record<string, unknown>, kid?: string): string {
  return `${b64({ alg: 'none', typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(claims)}.`;
}

/** The classic confusion attack: HS256 with the issuer's *public* key (as PEM) as the HMAC secret. */
export function hs256WithPublicKey(key: TestKey, claims: Record<string, unknown>): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64(claims)}`;
  const secret = key.publicKey.export({ format: 'pem', type: 'spki' });
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Claims valid now for the given issuer and audience. */
export function claimsFor(issuer: string, audience: string | string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuer, aud: audience, sub: 'carol', iat: now, nbf: now - 1, exp: now + 600, scope: 'mcp:notes', ...extra };
}

/** A loopback HTTP server serving a JWK set that tests may replace; counts fetches. */
export interface JwksServer {
  url: string;
  fetches: number;
  set(doc: unknown): void;
  close(): Promise<void>;
}

export async function startJwksServer(doc: unknown): Promise<JwksServer> {
  let current = doc;
  const state = { fetches: 0 };
  const server = http.createServer((req, res) => {
    state.fetches++;
    const body = JSON.stringify(current);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    get fetches() {
      return state.fetches;
    },
    set(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
