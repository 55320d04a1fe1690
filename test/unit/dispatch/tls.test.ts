import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTlsOptions, tlsConfigKey } from '../../../src/dispatch/tls';
import type { UpstreamTlsConfig } from '../../../src/config/types';
import type { UpstreamError } from '../../../src/dispatch';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dispatch-tls-'));
  writeFileSync(join(dir, 'cert.pem'), 'CERT');
  writeFileSync(join(dir, 'key.pem'), 'KEY');
  writeFileSync(join(dir, 'ca.pem'), 'CA');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const base: UpstreamTlsConfig = { cert: null, key: null, ca: null, rejectUnauthorized: true, servername: null };

function failure(cfg: UpstreamTlsConfig, scope: string): UpstreamError {
  try {
    loadTlsOptions(cfg, scope);
  } catch (err) {
    return err as UpstreamError;
  }
  throw new Error('expected TLS_CONFIG');
}

describe('loadTlsOptions', () => {
  it('reads the PEM files once into buffers and passes the flags through', () => {
    const opts = loadTlsOptions(
      { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), ca: join(dir, 'ca.pem'), rejectUnauthorized: false, servername: 'mcp.internal' },
      '*',
    );
    expect(opts).toEqual({
      cert: Buffer.from('CERT'),
      key: Buffer.from('KEY'),
      ca: Buffer.from('CA'),
      rejectUnauthorized: false,
      servername: 'mcp.internal',
    });
  });

  it('sets only what is configured (no ca = system CAs)', () => {
    expect(loadTlsOptions(base, '*')).toEqual({ rejectUnauthorized: true });
  });

  it('unreadable file -> TUNNEL_UPSTREAM_TLS_CONFIG naming the setting and path', () => {
    const err = failure({ ...base, ca: join(dir, 'missing.pem') }, 'files');
    expect(err.code).toBe('TUNNEL_UPSTREAM_TLS_CONFIG');
    expect(err.server).toBe('files');
    expect(err.origin).toBeNull();
    expect(err.causeCode).toBe('ENOENT');
    expect(err.message).toContain('upstream.servers.files.tls.ca');
    expect(err.message).toContain('missing.pem');
  });

  it('cert without key and key without cert are configuration errors', () => {
    expect(failure({ ...base, cert: join(dir, 'cert.pem') }, '*').message).toContain('upstream.tls');
    expect(failure({ ...base, key: join(dir, 'key.pem') }, '*').code).toBe('TUNNEL_UPSTREAM_TLS_CONFIG');
  });
});

describe('tlsConfigKey', () => {
  it('is equal exactly for equal configs', () => {
    expect(tlsConfigKey({ ...base })).toBe(tlsConfigKey({ ...base }));
    expect(tlsConfigKey({ ...base, ca: '/a' })).not.toBe(tlsConfigKey({ ...base, ca: '/b' }));
    expect(tlsConfigKey({ ...base, rejectUnauthorized: false })).not.toBe(tlsConfigKey(base));
    expect(tlsConfigKey({ ...base, servername: 'x' })).not.toBe(tlsConfigKey(base));
  });
});
