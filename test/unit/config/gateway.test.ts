import * as path from 'node:path';
import { describeGatewaySchema, loadGatewayConfig, type GatewayConfig } from '../../../src/config';
import { configError, tempDir } from './helpers';

const SECRET = 'tunnel-secret-0123456789abcdefghijkl';
const OLD_SECRET = 'older-secret-0123456789abcdefghijklm';
const API_KEY = 'alice-api-key-0123456789abcdefghijklm';

function validFile(): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 9000 },
    tunnels: [{ id: 'corp', secrets: [SECRET, OLD_SECRET] }],
    servers: [{ name: 'notes', tunnel: 'corp', url: 'http://10.0.0.5:9000/mcp' }],
    clients: [{ name: 'alice', apiKey: API_KEY, servers: ['notes'] }],
  };
}

const DEFAULTS: GatewayConfig = {
  listen: { host: '127.0.0.1', port: 8080 },
  allowedHosts: [],
  allowedOrigins: [],
  tls: null,
  tunnels: [],
  servers: [],
  clients: [],
  auth: { resource: null, jwt: null },
  limits: {
    maxRequestBodyBytes: 64 * 1024 * 1024,
    connectWaitMs: 10000,
    handshakeTimeoutMs: 5000,
    maxStreamsPerConnection: 8192,
    maxHeaderBytes: 65536,
    maxUnauthenticatedPerAddress: 16,
    maxUnauthenticated: 256,
    connectAttemptsPerMinute: 120,
    maxOpenStreamsPerClient: 10000,
    resumeWindowMs: 30000,
  },
  flow: { streamWindow: 262144, connectionWindow: 16777216, maxFrameSize: 65536 },
  heartbeat: { intervalMs: 15000 },
  rotation: { graceMs: 60000 },
  drainGraceMs: 30000,
  ops: { listen: null },
  cluster: null,
  log: { level: 'info', format: 'auto' },
  audit: { destination: 'stdout', sync: true, hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 1000, intervalMs: 60000 }, bodies: { enabled: false, maxBytes: 65536, redact: [] } },
  policy: { rules: [], inspectLimitBytes: 65536 },
  record: null,
};

/** Loads with `overrides` only (no file, empty env). */
function load(overrides: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  return loadGatewayConfig({ env, overrides });
}

function withArrays(patch: Partial<Record<'tunnels' | 'servers' | 'clients', unknown>>): Record<string, unknown> {
  const base = validFile();
  return { tunnels: base.tunnels, servers: base.servers, clients: base.clients, ...patch };
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  tmp.cleanup();
});

describe('loadGatewayConfig: sources', () => {
  it('has the documented defaults with no file and an empty env', () => {
    expect(loadGatewayConfig({ env: {} })).toEqual(DEFAULTS);
  });

  it('reads the JSON file', () => {
    const file = tmp.write('gateway.json', validFile());
    expect(loadGatewayConfig({ file, env: {} })).toEqual({
      ...DEFAULTS,
      listen: { host: '127.0.0.1', port: 9000 },
      tunnels: [{ id: 'corp', secrets: [SECRET, OLD_SECRET] }],
      servers: [{ name: 'notes', tunnel: 'corp', url: 'http://10.0.0.5:9000/mcp' }],
      clients: [{ name: 'alice', apiKey: API_KEY, servers: ['notes'] }],
    });
  });

  it('applies defaults < file < env < overrides', () => {
    const file = tmp.write('gateway.json', { ...validFile(), listen: { host: '127.0.0.2', port: 9000 } });
    const env = { MCP_TUNNEL_LISTEN_PORT: '9100' };
    const fromEnv = loadGatewayConfig({ file, env });
    expect(fromEnv.listen).toEqual({ host: '127.0.0.2', port: 9100 });
    expect(loadGatewayConfig({ file, env, overrides: { 'listen.port': 0 } }).listen.port).toBe(0);
    expect(loadGatewayConfig({ file, env, overrides: { listen: { port: 1 } } }).listen).toEqual({ host: '127.0.0.2', port: 1 });
    expect(loadGatewayConfig({ file, env: {} }).listen.port).toBe(9000);
  });

  it('reads every scalar from its MCP_TUNNEL_ env var', () => {
    const config = loadGatewayConfig({
      env: {
        MCP_TUNNEL_LISTEN_HOST: '0.0.0.0',
        MCP_TUNNEL_LISTEN_PORT: '8443',
        MCP_TUNNEL_MAX_REQUEST_BODY_BYTES: '1024',
        MCP_TUNNEL_CONNECT_WAIT_MS: '0',
        MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS: '2000',
        MCP_TUNNEL_MAX_STREAMS: '16',
        MCP_TUNNEL_MAX_HEADER_BYTES: '4096',
        MCP_TUNNEL_MAX_UNAUTHENTICATED_PER_ADDRESS: '3',
        MCP_TUNNEL_MAX_UNAUTHENTICATED: '30',
        MCP_TUNNEL_CONNECT_ATTEMPTS_PER_MINUTE: '12',
        MCP_TUNNEL_MAX_OPEN_STREAMS_PER_CLIENT: '7',
        MCP_TUNNEL_RESUME_WINDOW_MS: '0',
        MCP_TUNNEL_ALLOWED_HOSTS: 'mcp.example.com, mcp.example.com:8443,[::1]',
        MCP_TUNNEL_ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173',
        MCP_TUNNEL_FLOW_STREAM_WINDOW: '1000',
        MCP_TUNNEL_FLOW_CONNECTION_WINDOW: '2000',
        MCP_TUNNEL_FLOW_MAX_FRAME_SIZE: '500',
        MCP_TUNNEL_HEARTBEAT_MS: '1000',
        MCP_TUNNEL_LOG_LEVEL: 'DEBUG',
        MCP_TUNNEL_AUDIT: '/var/log/mcp-tunnel/audit.log',
      },
    });
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(config.limits).toEqual({
      maxRequestBodyBytes: 1024,
      connectWaitMs: 0,
      handshakeTimeoutMs: 2000,
      maxStreamsPerConnection: 16,
      maxHeaderBytes: 4096,
      maxUnauthenticatedPerAddress: 3,
      maxUnauthenticated: 30,
      connectAttemptsPerMinute: 12,
      maxOpenStreamsPerClient: 7,
      resumeWindowMs: 0,
    });
    expect(config.allowedHosts).toEqual(['mcp.example.com', 'mcp.example.com:8443', '[::1]']);
    expect(config.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(config.flow).toEqual({ streamWindow: 1000, connectionWindow: 2000, maxFrameSize: 500 });
    expect(config.heartbeat.intervalMs).toBe(1000);
    expect(config.log.level).toBe('debug');
    expect(config.audit.destination).toBe('/var/log/mcp-tunnel/audit.log');
  });

  it('reads the arrays from JSON env vars, which replace the file', () => {
    const file = tmp.write('gateway.json', validFile());
    const config = loadGatewayConfig({
      file,
      env: {
        MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'lab', secrets: [SECRET] }]),
        MCP_TUNNEL_SERVERS: JSON.stringify([{ name: 'wiki', tunnel: 'lab', url: 'https://wiki.internal/mcp' }]),
        MCP_TUNNEL_CLIENTS: JSON.stringify([{ name: 'bob', apiKey: API_KEY, servers: ['*'] }]),
      },
    });
    expect(config.tunnels).toEqual([{ id: 'lab', secrets: [SECRET] }]);
    expect(config.servers).toEqual([{ name: 'wiki', tunnel: 'lab', url: 'https://wiki.internal/mcp' }]);
    expect(config.clients).toEqual([{ name: 'bob', apiKey: API_KEY, servers: ['wiki'] }]);
  });

  it('reports a JSON env var that is not JSON without quoting it', () => {
    const raw = `[{"id":"corp","secrets":["${SECRET}"`;
    const err = configError(() => load({}, { MCP_TUNNEL_TUNNELS: raw }));
    expect(err.key).toBe('tunnels');
    expect(err.problem).toMatch(/^is not valid JSON/);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('tunnel-secret');
  });

  it('refuses "__proto__" keys in JSON env vars', () => {
    const raw = `[{"id":"corp","secrets":["${SECRET}"],"__proto__":{"x":1}}]`;
    expect(configError(() => load({}, { MCP_TUNNEL_TUNNELS: raw })).message).toBe('tunnels: must not contain a "__proto__" key');
  });

  it('reports a missing file, a non-JSON file and a non-object file', () => {
    const missing = path.join(tmp.dir, 'nope.json');
    expect(configError(() => loadGatewayConfig({ file: missing, env: {} })).message).toBe(`${missing}: cannot be read (ENOENT)`);

    const broken = tmp.write('broken.json', `{ "tunnels": [{ "id": "corp", "secrets": [${SECRET}] }] }`);
    const err = configError(() => loadGatewayConfig({ file: broken, env: {} }));
    expect(err.key).toBe(broken);
    expect(err.problem).toMatch(/^is not valid JSON/);
    expect(err.message).not.toContain(SECRET);
    expect(err.cause).toBeUndefined();

    const array = tmp.write('array.json', '[]');
    expect(configError(() => loadGatewayConfig({ file: array, env: {} })).problem).toBe('must contain a JSON object');
  });

  it('refuses unknown keys in the file and in overrides (typos must not fall back to defaults)', () => {
    const file = tmp.write('gateway.json', { listen: { hots: '0.0.0.0' } });
    expect(configError(() => loadGatewayConfig({ file, env: {} })).message).toBe('listen.hots: is not a known option');
    expect(configError(() => load({ 'listen.port.x': 1 })).key).toBe('listen.port.x');
    expect(configError(() => load({ secret: 'x' })).key).toBe('secret');
    const notObject = tmp.write('bad.json', { listen: 8080 });
    expect(configError(() => loadGatewayConfig({ file: notObject, env: {} })).message).toBe('listen: must be an object');
  });
});

describe('loadGatewayConfig: tls', () => {
  it('resolves relative tls paths against the config file folder', () => {
    const cert = tmp.write('conf/certs/gateway.crt', 'CERT');
    const key = tmp.write('conf/certs/gateway.key', 'KEY');
    const file = tmp.write('conf/gateway.json', { ...validFile(), tls: { cert: 'certs/gateway.crt', key: 'certs/gateway.key' } });
    expect(loadGatewayConfig({ file, env: {} }).tls).toEqual({ cert, key });
  });

  it('keeps absolute paths, and takes env paths as given', () => {
    const cert = tmp.write('a.crt', 'CERT');
    const key = tmp.write('a.key', 'KEY');
    const file = tmp.write('sub/gateway.json', { tls: { cert, key } });
    expect(loadGatewayConfig({ file, env: {} }).tls).toEqual({ cert, key });
    expect(loadGatewayConfig({ env: { MCP_TUNNEL_TLS_CERT: cert, MCP_TUNNEL_TLS_KEY: key } }).tls).toEqual({ cert, key });
  });

  it('is null when unset, or null in the file', () => {
    const file = tmp.write('gateway.json', { ...validFile(), tls: null });
    expect(loadGatewayConfig({ file, env: {} }).tls).toBeNull();
    expect(loadGatewayConfig({ env: { MCP_TUNNEL_TLS_CERT: '', MCP_TUNNEL_TLS_KEY: '' } }).tls).toBeNull();
  });

  it('needs both cert and key', () => {
    const cert = tmp.write('a.crt', 'CERT');
    expect(configError(() => load({ 'tls.cert': cert })).message).toBe('tls.key: must be set together with tls.cert');
    expect(configError(() => load({ 'tls.key': cert })).message).toBe('tls.cert: must be set together with tls.key');
  });

  it('checks that the files can be read, without showing the key path', () => {
    const cert = tmp.write('a.crt', 'CERT');
    const missing = path.join(tmp.dir, 'missing.key');
    const err = configError(() => load({ tls: { cert, key: missing } }));
    expect(err.message).toBe('tls.key: file cannot be read (ENOENT)');
    expect(configError(() => load({ tls: { cert: tmp.dir, key: cert } })).problem).toBe('must name a regular file');
  });
});

describe('loadGatewayConfig: listen', () => {
  it.each([0, 1, 65535])('accepts port %d (0 picks a free port)', (port) => {
    expect(load({ 'listen.port': port }).listen.port).toBe(port);
  });

  it.each([65536, -1, 1.5, '80x', 'abc', ''])('refuses port %p', (port) => {
    const err = configError(() => load({}, { MCP_TUNNEL_LISTEN_PORT: String(port) }));
    expect(err.key).toBe('listen.port');
    expect(err.problem).toBe('must be an integer from 0 to 65535');
  });

  it('refuses allowedHosts and allowedOrigins entries the request check could never match', () => {
    expect(configError(() => load({}, { MCP_TUNNEL_ALLOWED_HOSTS: 'ok.example,evil@127.0.0.1' })).key).toBe('allowedHosts[1]');
    expect(configError(() => load({}, { MCP_TUNNEL_ALLOWED_HOSTS: 'gw.example:99999' })).key).toBe('allowedHosts[0]');
    expect(configError(() => load({}, { MCP_TUNNEL_ALLOWED_ORIGINS: 'https://app.example/path' })).key).toBe('allowedOrigins[0]');
    expect(configError(() => load({}, { MCP_TUNNEL_ALLOWED_ORIGINS: 'null' })).key).toBe('allowedOrigins[0]');
    expect(load({ allowedOrigins: ['*'] }).allowedOrigins).toEqual(['*']);
    expect(load({ allowedHosts: ['[::1]:8080'] }).allowedHosts).toEqual(['[::1]:8080']);
  });

  it('refuses an empty host and a non-integer limit', () => {
    expect(configError(() => load({}, { MCP_TUNNEL_LISTEN_HOST: ' ' })).message).toBe('listen.host: must not be empty (value: " ")');
    expect(configError(() => load({}, { MCP_TUNNEL_MAX_STREAMS: '0' })).message).toBe(
      'limits.maxStreamsPerConnection: must be an integer >= 1 (value: 0)',
    );
    expect(configError(() => load({}, { MCP_TUNNEL_HEARTBEAT_MS: '1e3' })).key).toBe('heartbeat.intervalMs');
    expect(configError(() => load({}, { MCP_TUNNEL_LOG_LEVEL: 'loud' })).key).toBe('log.level');
  });
});

describe('loadGatewayConfig: tunnels', () => {
  it('reports an empty secrets list with the value redacted', () => {
    const err = configError(() => load(withArrays({ tunnels: [{ id: 'corp', secrets: [] }] })));
    expect(err.message).toBe('tunnels[0].secrets: must not be empty (value: [redacted])');
  });

  it('refuses an empty secret', () => {
    const err = configError(() => load(withArrays({ tunnels: [{ id: 'corp', secrets: [SECRET, ''] }] })));
    expect(err.message).toBe('tunnels[0].secrets[1]: must not be empty (value: "")');
  });

  it('refuses a non-string secret, and secrets that are not an array', () => {
    expect(configError(() => load(withArrays({ tunnels: [{ id: 'corp', secrets: [42] }] }))).message).toBe(
      'tunnels[0].secrets[0]: must be a string (value: [redacted])',
    );
    const err = configError(() => load(withArrays({ tunnels: [{ id: 'corp', secrets: SECRET }] })));
    expect(err.key).toBe('tunnels[0].secrets');
    expect(err.message).not.toContain(SECRET);
  });

  it('refuses the placeholder secret of the example config', () => {
    const err = configError(() => load(withArrays({ tunnels: [{ id: 'corp', secrets: ['CHANGE-ME-current-tunnel-secret'] }] })));
    expect(err.key).toBe('tunnels[0].secrets[0]');
    expect(err.problem).toMatch(/placeholder/);
  });

  it.each(['', 'has space', 'a/b', 'x'.repeat(65), 'ünïcode'])('refuses tunnel id %p', (id) => {
    const err = configError(() => load({ tunnels: [{ id, secrets: [SECRET] }] }));
    expect(err.key).toBe('tunnels[0].id');
    expect(err.problem).toBe('must match /^[A-Za-z0-9._-]{1,64}$/');
    expect(err.value).toBe(JSON.stringify(id));
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the reserved id %s', (id) => {
    expect(configError(() => load({ tunnels: [{ id, secrets: [SECRET] }] })).message).toBe(
      `tunnels[0].id: is a reserved name (value: "${id}")`,
    );
  });

  it('accepts ids made of the whole charset, up to 64 characters', () => {
    const id = `Az09._-${'x'.repeat(57)}`;
    expect(load({ tunnels: [{ id, secrets: [SECRET] }] }).tunnels[0]?.id).toBe(id);
  });

  it('refuses duplicate ids', () => {
    const err = configError(() => load({ tunnels: [{ id: 'a', secrets: [SECRET] }, { id: 'a', secrets: [OLD_SECRET] }] }));
    expect(err.message).toBe('tunnels[1].id: duplicate tunnel id (already used by tunnels[0]) (value: "a")');
  });

  it('refuses unknown fields and non-objects, without showing the secrets', () => {
    expect(configError(() => load({ tunnels: [{ id: 'a', secrets: [SECRET], secert: 'x' }] })).message).toBe(
      'tunnels[0].secert: is not a known option',
    );
    const err = configError(() => load({ tunnels: [SECRET] }));
    expect(err.message).toBe('tunnels[0]: must be an object (value: "tu…(36 chars)")');
    expect(err.message).not.toContain(SECRET);
    expect(configError(() => load({}, { MCP_TUNNEL_TUNNELS: '{}' })).message).toBe('tunnels: must be a JSON array (value: [redacted])');
  });
});

describe('loadGatewayConfig: servers', () => {
  it('refuses a server on an undeclared tunnel', () => {
    const err = configError(() => load(withArrays({ servers: [{ name: 'notes', tunnel: 'lab', url: 'http://127.0.0.1:1/mcp' }] })));
    expect(err.message).toBe('servers[0].tunnel: names no declared tunnel (value: "lab")');
  });

  it.each(['ftp://10.0.0.5/mcp', 'ws://10.0.0.5/mcp', 'not a url', '', 42])('refuses url %p', (url) => {
    const err = configError(() => load(withArrays({ servers: [{ name: 'notes', tunnel: 'corp', url }] })));
    expect(err.key).toBe('servers[0].url');
    expect(err.problem).toBe('must be an http: or https: URL');
  });

  it('accepts https', () => {
    const servers = [{ name: 'notes', tunnel: 'corp', url: 'https://notes.internal:8443/mcp' }];
    expect(load(withArrays({ servers })).servers).toEqual(servers);
  });

  it('refuses duplicate and malformed names', () => {
    const s = { tunnel: 'corp', url: 'http://127.0.0.1:1/mcp' };
    expect(configError(() => load(withArrays({ servers: [{ name: 'a', ...s }, { name: 'a', ...s }] }))).message).toBe(
      'servers[1].name: duplicate server name (already used by servers[0]) (value: "a")',
    );
    expect(configError(() => load(withArrays({ servers: [{ name: 'a b', ...s }] }))).key).toBe('servers[0].name');
    expect(configError(() => load(withArrays({ servers: [{ name: 'a', ...s, tls: {} }] }))).key).toBe('servers[0].tls');
  });
});

describe('loadGatewayConfig: clients', () => {
  const servers = [
    { name: 'notes', tunnel: 'corp', url: 'http://127.0.0.1:1/mcp' },
    { name: 'wiki', tunnel: 'corp', url: 'http://127.0.0.1:2/mcp' },
  ];

  it('refuses a client naming an undeclared server', () => {
    const err = configError(() => load(withArrays({ servers, clients: [{ name: 'alice', apiKey: API_KEY, servers: ['notes', 'nope'] }] })));
    expect(err.message).toBe('clients[0].servers[1]: names no declared server (value: "nope")');
  });

  it('expands "*" to every declared server and drops duplicates', () => {
    const config = load(
      withArrays({
        servers,
        clients: [
          { name: 'alice', apiKey: API_KEY, servers: ['*'] },
          { name: 'bob', apiKey: `${API_KEY}-bob`, servers: ['wiki', 'wiki'] },
          { name: 'carol', apiKey: `${API_KEY}-carol`, servers: [] },
        ],
      }),
    );
    expect(config.clients.map((c) => c.servers)).toEqual([['notes', 'wiki'], ['wiki'], []]);
  });

  it('refuses an empty API key', () => {
    const err = configError(() => load(withArrays({ clients: [{ name: 'alice', apiKey: '', servers: [] }] })));
    expect(err.message).toBe('clients[0].apiKey: must not be empty (value: "")');
  });

  it('refuses a duplicate API key without showing it', () => {
    const err = configError(() =>
      load(
        withArrays({
          clients: [
            { name: 'alice', apiKey: API_KEY, servers: [] },
            { name: 'bob', apiKey: API_KEY, servers: [] },
          ],
        }),
      ),
    );
    expect(err.key).toBe('clients[1].apiKey');
    expect(err.problem).toBe('duplicate API key (same as clients[0])');
    expect(err.message).not.toContain(API_KEY);
    expect(err.value).toBe(`"al…(${API_KEY.length} chars)"`);
  });

  it('refuses the placeholder API key, duplicate names and bad shapes', () => {
    expect(configError(() => load(withArrays({ clients: [{ name: 'a', apiKey: 'change-me-alice', servers: [] }] }))).problem).toMatch(
      /placeholder/,
    );
    const twice = [
      { name: 'a', apiKey: `${API_KEY}1`, servers: [] },
      { name: 'a', apiKey: `${API_KEY}2`, servers: [] },
    ];
    expect(configError(() => load(withArrays({ clients: twice }))).key).toBe('clients[1].name');
    expect(configError(() => load(withArrays({ clients: [{ name: 'a', apiKey: API_KEY, servers: 'notes' }] }))).key).toBe(
      'clients[0].servers',
    );
    expect(configError(() => load(withArrays({ clients: [{ name: '', apiKey: API_KEY, servers: [] }] }))).key).toBe('clients[0].name');
  });
});

describe('loadGatewayConfig: secrets never appear in errors', () => {
  const cases: Array<[string, () => unknown]> = [
    ['tunnel object', () => load({ tunnels: [{ id: 'corp', secrets: [SECRET], extra: 1 }, SECRET] })],
    ['whole tunnels value', () => load({ tunnels: SECRET })],
    ['secrets not an array', () => load({ tunnels: [{ id: 'corp', secrets: SECRET }] })],
    ['client not an object', () => load({ clients: [API_KEY] })],
    ['clients value', () => load({ clients: { apiKey: API_KEY } })],
    ['apiKey wrong type', () => load({ clients: [{ name: 'a', apiKey: [API_KEY], servers: [] }] })],
    ['env JSON', () => load({}, { MCP_TUNNEL_CLIENTS: `[{"name":"a","apiKey":"${API_KEY}"` })],
  ];
  it.each(cases)('%s', (_name, fn) => {
    const err = configError(fn);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain(API_KEY);
  });
});

describe('describeGatewaySchema', () => {
  it('documents every key with an MCP_TUNNEL_ env var', () => {
    const rows = describeGatewaySchema();
    for (const row of rows) {
      expect(row.doc.length).toBeGreaterThan(10);
      expect(row.env).toMatch(/^MCP_TUNNEL_[A-Z_]+$/);
    }
    expect(rows.map((r) => r.env)).toEqual(
      expect.arrayContaining([
        'MCP_TUNNEL_LISTEN_HOST',
        'MCP_TUNNEL_LISTEN_PORT',
        'MCP_TUNNEL_TLS_CERT',
        'MCP_TUNNEL_TLS_KEY',
        'MCP_TUNNEL_TUNNELS',
        'MCP_TUNNEL_SERVERS',
        'MCP_TUNNEL_CLIENTS',
        'MCP_TUNNEL_LOG_LEVEL',
        'MCP_TUNNEL_AUDIT',
      ]),
    );
    expect(new Set(rows.map((r) => r.env)).size).toBe(rows.length);
  });

  it('lists exactly the keys of GatewayConfig, with their defaults', () => {
    const rows = describeGatewaySchema();
    const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
    expect(Object.keys(byKey).sort()).toEqual(
      [
        'listen.host',
        'listen.port',
        'tls.cert',
        'tls.key',
        'tunnels',
        'servers',
        'clients',
        'auth.resource',
        'auth.jwt',
        'limits.maxRequestBodyBytes',
        'limits.connectWaitMs',
        'limits.handshakeTimeoutMs',
        'limits.maxStreamsPerConnection',
        'limits.maxHeaderBytes',
        'limits.maxUnauthenticatedPerAddress',
        'limits.maxUnauthenticated',
        'limits.connectAttemptsPerMinute',
        'limits.maxOpenStreamsPerClient',
        'limits.resumeWindowMs',
        'allowedHosts',
        'allowedOrigins',
        'flow.streamWindow',
        'flow.connectionWindow',
        'flow.maxFrameSize',
        'heartbeat.intervalMs',
        'rotation.graceMs',
        'drainGraceMs',
        'ops.listen',
        'log.format',
        'cluster.redis',
        'cluster.advertise',
        'cluster.listen',
        'cluster.secretFile',
        'log.level',
        'audit.destination',
        'audit.sync',
        'audit.hmacKeyFile',
        'audit.signingKeyFile',
        'audit.checkpoint.every',
        'audit.checkpoint.intervalMs',
        'audit.bodies.enabled',
        'audit.bodies.maxBytes',
        'audit.bodies.redact',
        'policy.rules',
        'record.file',
        'record.hmacKeyFile',
        'record.maxFileBytes',
        'record.queueBytes',
        'record.redact.headers',
        'record.redact.patterns',
        'record.redact.pointers',
        'record.redact.queryParams',
        'record.servers',
        'policy.inspectLimitBytes',
      ].sort(),
    );
    expect(byKey['listen.port']?.default).toBe(8080);
    expect(byKey['tls.cert']?.defaultText).toBe('(none)');
    expect(byKey['tunnels']?.sensitive).toBe(true);
    expect(byKey['clients']?.sensitive).toBe(true);
    expect(byKey['tls.key']?.sensitive).toBe(true);
    expect(byKey['servers']?.sensitive).toBe(false);
  });
});
