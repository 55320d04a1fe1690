import * as path from 'node:path';
import { loadGatewayConfig, loadProxyConfig } from '../../../src/config';
import { configError, tempDir } from './helpers';

const SECRET = 'proxy-secret-0123456789abcdefghijklmn';
const PROXY_ENV = { MCP_TUNNEL_URL: 'ws://127.0.0.1:9000/tunnel/corp', MCP_TUNNEL_SECRET: SECRET };

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('record config (docs/replay.md)', () => {
  it('is off by default; a gateway file sets file (relative to it), servers and redaction', () => {
    expect(loadGatewayConfig({ env: {} }).record).toBeNull();
    const key = tmp.write('record.key', 'k'.repeat(40));
    const file = tmp.write('gateway.json', {
      servers: [{ name: 'notes', tunnel: 'corp', url: 'http://10.0.0.5/mcp' }],
      tunnels: [{ id: 'corp', secrets: [SECRET] }],
      record: { file: 'rec/notes.jsonl', servers: ['notes'], hmacKeyFile: 'record.key', redact: { pointers: ['/params/arguments/password'], patterns: ['sk-[a-z0-9]+'] } },
    });
    expect(loadGatewayConfig({ file, env: {} }).record).toEqual({
      file: path.join(tmp.dir, 'rec/notes.jsonl'),
      servers: ['notes'],
      maxFileBytes: 1024 ** 3,
      queueBytes: 2 * 1024 ** 2,
      hmacKeyFile: key,
      redact: { headers: [], queryParams: [], pointers: ['/params/arguments/password'], patterns: ['sk-[a-z0-9]+'] },
    });
  });

  it('the proxy takes MCP_TUNNEL_RECORD_FILE and --record (override); servers absent = all', () => {
    expect(loadProxyConfig({ env: { ...PROXY_ENV, MCP_TUNNEL_RECORD_FILE: '/tmp/p.jsonl' } }).record).toMatchObject({ file: '/tmp/p.jsonl', servers: null });
    expect(loadProxyConfig({ env: PROXY_ENV, overrides: { 'record.file': '/tmp/q.jsonl' } }).record?.file).toBe('/tmp/q.jsonl');
  });

  it('record.queueBytes (MCP_TUNNEL_RECORD_QUEUE_BYTES) sets the recorder queue; 2 MiB by default; positive', () => {
    const env = { ...PROXY_ENV, MCP_TUNNEL_RECORD_FILE: '/tmp/p.jsonl' };
    expect(loadProxyConfig({ env }).record?.queueBytes).toBe(2 * 1024 ** 2);
    expect(loadProxyConfig({ env: { ...env, MCP_TUNNEL_RECORD_QUEUE_BYTES: '16777216' } }).record?.queueBytes).toBe(16 * 1024 ** 2);
    expect(configError(() => loadProxyConfig({ env: { ...env, MCP_TUNNEL_RECORD_QUEUE_BYTES: '0' } })).message).toContain('record.queueBytes');
  });

  it('refuses a bad JSON Pointer, a bad regex and an unreadable key file with the key named', () => {
    const env = { ...PROXY_ENV, MCP_TUNNEL_RECORD_FILE: '/tmp/p.jsonl' };
    expect(configError(() => loadProxyConfig({ env: { ...env, MCP_TUNNEL_RECORD_REDACT_POINTERS: 'params/x' } })).message).toContain('record.redact.pointers');
    expect(configError(() => loadProxyConfig({ env: { ...env, MCP_TUNNEL_RECORD_REDACT_PATTERNS: '["(unclosed"]' } })).message).toContain('record.redact.patterns');
    expect(configError(() => loadProxyConfig({ env: { ...env, MCP_TUNNEL_RECORD_HMAC_KEY_FILE: path.join(tmp.dir, 'none') } })).message).toContain('record.hmacKeyFile');
  });
});
