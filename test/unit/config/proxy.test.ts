import * as os from 'node:os';
import * as path from 'node:path';
import { MIN_SECRET_BYTES, describeProxySchema, isLoopbackHost, loadGatewayConfig, loadProxyConfig, type ProxyConfig } from '../../../src/config';
import { TestCa } from '../../helpers/certs';
import { configError, tempDir } from './helpers';

const SECRET = 'proxy-secret-0123456789abcdefghijklmn';
const URL_OK = 'wss://gateway.example.com/tunnel/corp';

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET: SECRET, ...extra };
}

function load(extra: NodeJS.ProcessEnv = {}, overrides?: Record<string, unknown>): ProxyConfig {
  return loadProxyConfig({ env: env(extra), overrides });
}

let tmp: ReturnType<typeof tempDir>;
/** A real PEM certificate: `caFile` must hold one (checked at load). */
let CA_PEM: string;
beforeAll(() => {
  const ca = new TestCa();
  CA_PEM = ca.caPem();
  ca.cleanup();
});
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  tmp.cleanup();
});

describe('loadProxyConfig: defaults and env', () => {
  it('needs only the URL and the secret', () => {
    const noTls = { cert: null, key: null, ca: null, rejectUnauthorized: true, servername: null };
    expect(load()).toEqual({
      url: URL_OK,
      tunnelId: 'corp',
      secret: SECRET,
      secretFile: null,
      caFile: null,
      pins: [],
      requireChannelBinding: false,
      allowInsecure: false,
      name: os.hostname(),
      reconnect: { baseMs: 250, capMs: 30000, stableMs: 10000 },
      connections: 2,
      drainGraceMs: 30000,
      handshakeTimeoutMs: 10000,
      maxConnectionAgeMs: 0,
      heartbeat: { intervalMs: 15000 },
      limits: { maxStreams: 8192, maxHeaderBytes: 65536 },
      flow: { streamWindow: 262144, connectionWindow: 16777216, maxFrameSize: 65536 },
      upstream: {
        tls: noTls,
        servers: {},
        headersTimeoutMs: 300000,
        connectTimeoutMs: 10000,
        connectionsPerOrigin: 128,
        streamConnectionsPerOrigin: 16384,
        allow: [],
      },
      ops: { listen: null },
      log: { level: 'info', format: 'auto' },
      audit: { destination: 'stdout', sync: true, hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 1000, intervalMs: 60000 }, bodies: { enabled: false, maxBytes: 65536, redact: [] } },
      record: null,
    });
  });

  it('reads every documented env var', () => {
    const ca = tmp.write('ca.pem', CA_PEM);
    const cert = tmp.write('up.crt', 'CERT');
    const key = tmp.write('up.key', 'KEY');
    const upCa = tmp.write('up-ca.pem', 'CA');
    const config = load({
      MCP_TUNNEL_CA_FILE: ca,
      MCP_TUNNEL_PROXY_NAME: 'proxy-1',
      MCP_TUNNEL_RECONNECT_BASE_MS: '100',
      MCP_TUNNEL_RECONNECT_CAP_MS: '5000',
      MCP_TUNNEL_HEARTBEAT_MS: '2000',
      MCP_TUNNEL_MAX_STREAMS: '8',
      MCP_TUNNEL_MAX_HEADER_BYTES: '1024',
      MCP_TUNNEL_FLOW_STREAM_WINDOW: '1',
      MCP_TUNNEL_FLOW_CONNECTION_WINDOW: '2',
      MCP_TUNNEL_FLOW_MAX_FRAME_SIZE: '3',
      MCP_TUNNEL_UPSTREAM_CERT: cert,
      MCP_TUNNEL_UPSTREAM_KEY: key,
      MCP_TUNNEL_UPSTREAM_CA: upCa,
      MCP_TUNNEL_UPSTREAM_REJECT_UNAUTHORIZED: 'false',
      MCP_TUNNEL_UPSTREAM_SERVERNAME: 'notes.mesh.local',
      MCP_TUNNEL_UPSTREAM_HEADERS_TIMEOUT_MS: '0',
      MCP_TUNNEL_UPSTREAM_CONNECT_TIMEOUT_MS: '500',
      MCP_TUNNEL_UPSTREAM_CONNECTIONS: '4',
      MCP_TUNNEL_UPSTREAM_STREAM_CONNECTIONS: '5000',
      MCP_TUNNEL_ALLOW: ' mcp.internal:9000, *.corp.example ,10.0.0.0/8,[::1]:9000',
      MCP_TUNNEL_LOG_LEVEL: 'warn',
      MCP_TUNNEL_AUDIT: 'stderr',
    });
    expect(config.caFile).toBe(ca);
    expect(config.name).toBe('proxy-1');
    expect(config.reconnect).toEqual({ baseMs: 100, capMs: 5000, stableMs: 10000 });
    expect(config.heartbeat).toEqual({ intervalMs: 2000 });
    expect(config.limits).toEqual({ maxStreams: 8, maxHeaderBytes: 1024 });
    expect(config.flow).toEqual({ streamWindow: 1, connectionWindow: 2, maxFrameSize: 3 });
    expect(config.upstream).toEqual({
      tls: { cert, key, ca: upCa, rejectUnauthorized: false, servername: 'notes.mesh.local' },
      servers: {},
      headersTimeoutMs: 0,
      connectTimeoutMs: 500,
      connectionsPerOrigin: 4,
      streamConnectionsPerOrigin: 5000,
      allow: ['mcp.internal:9000', '*.corp.example', '10.0.0.0/8', '[::1]:9000'],
    });
    expect(config.log.level).toBe('warn');
    expect(config.audit.destination).toBe('stderr');
  });

  it('treats an empty env var (KEY= in an env file) as unset', () => {
    expect(load({ MCP_TUNNEL_CA_FILE: '', MCP_TUNNEL_UPSTREAM_SERVERNAME: '' }).caFile).toBeNull();
  });

  it.each([
    ['MCP_TUNNEL_RECONNECT_BASE_MS', '0', 'reconnect.baseMs', 'must be an integer >= 1 (value: 0)'],
    ['MCP_TUNNEL_MAX_STREAMS', 'many', 'limits.maxStreams', 'must be an integer >= 1 (value: "many")'],
    ['MCP_TUNNEL_UPSTREAM_CONNECTIONS', '-3', 'upstream.connectionsPerOrigin', 'must be an integer >= 1 (value: "-3")'],
    ['MCP_TUNNEL_UPSTREAM_HEADERS_TIMEOUT_MS', '5s', 'upstream.headersTimeoutMs', 'must be an integer >= 0 (value: "5s")'],
    ['MCP_TUNNEL_UPSTREAM_REJECT_UNAUTHORIZED', 'nope', 'upstream.tls.rejectUnauthorized', 'must be true or false (value: "nope")'],
    ['MCP_TUNNEL_LOG_LEVEL', 'verbose', 'log.level', 'must be one of fatal, error, warn, info, debug, trace, silent (value: "verbose")'],
    ['MCP_TUNNEL_PROXY_NAME', '', 'name', 'must not be empty (value: "")'],
    ['MCP_TUNNEL_ALLOW', 'mcp.internal,10.0.0.0/33', 'upstream.allow[1]', 'rule "10.0.0.0/33" has an invalid prefix length "/33" (0-32) (value: "10.0.0.0/33")'],
    ['MCP_TUNNEL_ALLOW', 'host:99999', 'upstream.allow[0]', 'rule "host:99999" has a port out of range (99999) (value: "host:99999")'],
    ['MCP_TUNNEL_ALLOW', 'a.*.example', 'upstream.allow[0]', 'rule "a.*.example" may use "*" only as the whole first label ("*.example.com") (value: "a.*.example")'],
  ])('%s=%p → %s', (name, value, key, message) => {
    expect(configError(() => load({ [name]: value })).message).toBe(`${key}: ${message}`);
  });

  it('reads the resilience settings (connections, drain grace, stable time, maximum age) and bounds connections to 1-16', () => {
    const config = load({ MCP_TUNNEL_CONNECTIONS: '4', MCP_TUNNEL_DRAIN_GRACE_MS: '5000', MCP_TUNNEL_RECONNECT_STABLE_MS: '2000', MCP_TUNNEL_MAX_CONNECTION_AGE_MS: '3600000' });
    expect(config).toMatchObject({ connections: 4, drainGraceMs: 5000, maxConnectionAgeMs: 3600000, reconnect: { stableMs: 2000 } });
    expect(configError(() => load({ MCP_TUNNEL_CONNECTIONS: '0' })).message).toBe('connections: must be an integer >= 1 (value: 0)');
    expect(configError(() => load({ MCP_TUNNEL_CONNECTIONS: '17' })).message).toBe('connections: must be at most 16 (value: 17)');
  });

  it('refuses a reconnect cap below the base', () => {
    expect(configError(() => load({ MCP_TUNNEL_RECONNECT_BASE_MS: '1000', MCP_TUNNEL_RECONNECT_CAP_MS: '999' })).message).toBe(
      'reconnect.capMs: must be at least reconnect.baseMs (value: 999)',
    );
  });

  it('reads ops.listen from MCP_TUNNEL_OPS_LISTEN or an override (--ops-listen, which wins); empty is off; names and bad ports are refused', () => {
    expect(load({ MCP_TUNNEL_OPS_LISTEN: '127.0.0.1:9464' }).ops).toEqual({ listen: '127.0.0.1:9464' });
    expect(load({ MCP_TUNNEL_OPS_LISTEN: '127.0.0.1:9464' }, { 'ops.listen': '[::1]:0' }).ops).toEqual({ listen: '[::1]:0' });
    expect(load({ MCP_TUNNEL_OPS_LISTEN: '' }).ops).toEqual({ listen: null });
    for (const bad of ['ops.example.com:9464', '127.0.0.1:65536', '127.0.0.1', ':9464']) {
      expect(configError(() => load({ MCP_TUNNEL_OPS_LISTEN: bad })).message).toMatch(/^ops\.listen: .*expected HOST:PORT/);
    }
  });

  it('checks the CA file', () => {
    const missing = path.join(tmp.dir, 'ca.pem');
    expect(configError(() => load({ MCP_TUNNEL_CA_FILE: missing })).message).toBe(
      `caFile: file cannot be read (ENOENT) (value: ${JSON.stringify(missing)})`,
    );
  });
});

describe('loadProxyConfig: url', () => {
  it('takes the tunnel id from the path', () => {
    expect(load({ MCP_TUNNEL_URL: 'wss://gw.example.com:8443/tunnel/Lab-1.prod_x' }).tunnelId).toBe('Lab-1.prod_x');
  });

  it('must be set', () => {
    expect(configError(() => loadProxyConfig({ env: { MCP_TUNNEL_SECRET: SECRET } })).message).toBe(
      'url: must be set (MCP_TUNNEL_URL or --url)',
    );
  });

  it.each([
    ['http://gw.example.com/tunnel/corp', 'must be a ws: or wss: URL'],
    ['https://gw.example.com/tunnel/corp', 'must be a ws: or wss: URL'],
    ['gw.example.com/tunnel/corp', 'must be a URL like wss://gateway.example.com/tunnel/{tunnelId}'],
    ['wss://gw.example.com/', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/tunnel/', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/tunnel/corp/', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/tunnels/corp', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/api/tunnel/corp', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/tunnel/__proto__', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/tunnel/a%20b', 'path must be exactly /tunnel/{tunnelId}, tunnelId matching /^[A-Za-z0-9._-]{1,64}$/'],
    ['wss://gw.example.com/tunnel/corp?x=1', 'must not have a query or fragment'],
    ['wss://gw.example.com/tunnel/corp#x', 'must not have a query or fragment'],
    ['wss://user:pw@gw.example.com/tunnel/corp', 'must not contain credentials (use the secret)'],
  ])('refuses %s', (url, problem) => {
    const err = configError(() => load({ MCP_TUNNEL_URL: url }));
    expect(err.key).toBe('url');
    expect(err.problem).toBe(problem);
  });

  it('refuses ws:// to a non-loopback host', () => {
    const err = configError(() => load({ MCP_TUNNEL_URL: 'ws://gw.example.com/tunnel/corp' }));
    expect(err.message).toBe(
      'url: ws:// (unencrypted) is only allowed to a loopback host; use wss:// or set MCP_TUNNEL_ALLOW_INSECURE=true (value: "ws://gw.example.com/tunnel/corp")',
    );
  });

  it.each(['127.0.0.1', '127.1.2.3', '[::1]', 'localhost', 'LOCALHOST', '127.0.0.1:8080'])('allows ws:// to loopback %s', (host) => {
    expect(load({ MCP_TUNNEL_URL: `ws://${host}/tunnel/corp` }).tunnelId).toBe('corp');
  });

  it.each(['128.0.0.1', '10.0.0.1', '0.0.0.0', '[::2]', '[::ffff:10.0.0.1]', 'localhost.example.com', 'example.localhost.com'])(
    'refuses ws:// to %s',
    (host) => {
      expect(configError(() => load({ MCP_TUNNEL_URL: `ws://${host}/tunnel/corp` })).problem).toMatch(/^ws:\/\/ \(unencrypted\)/);
    },
  );

  it.each(['true', 'TRUE', '1', 'yes', 'on'])('allows ws:// anywhere with MCP_TUNNEL_ALLOW_INSECURE=%s', (value) => {
    const config = load({ MCP_TUNNEL_URL: 'ws://gw.example.com/tunnel/corp', MCP_TUNNEL_ALLOW_INSECURE: value });
    expect(config.allowInsecure).toBe(true);
  });

  it.each(['false', '0', 'no', 'off', ''])('keeps refusing with MCP_TUNNEL_ALLOW_INSECURE=%p', (value) => {
    const e = { MCP_TUNNEL_URL: 'ws://gw.example.com/tunnel/corp', MCP_TUNNEL_ALLOW_INSECURE: value };
    if (value === '') {
      expect(configError(() => load(e)).key).toBe('allowInsecure');
    } else {
      expect(configError(() => load(e)).key).toBe('url');
    }
  });

  it('allows ws:// anywhere with the allowInsecure override (--allow-insecure)', () => {
    expect(load({ MCP_TUNNEL_URL: 'ws://10.1.2.3:8080/tunnel/corp' }, { allowInsecure: true }).url).toBe('ws://10.1.2.3:8080/tunnel/corp');
  });

  it('prefers overrides to env, and env to the file', () => {
    const file = tmp.write('proxy.json', { url: 'wss://file.example.com/tunnel/f' });
    expect(loadProxyConfig({ file, env: { MCP_TUNNEL_SECRET: SECRET } }).tunnelId).toBe('f');
    expect(loadProxyConfig({ file, env: env() }).tunnelId).toBe('corp');
    expect(loadProxyConfig({ file, env: env(), overrides: { url: 'wss://o.example.com/tunnel/o' } }).tunnelId).toBe('o');
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['::1', true],
    ['localhost', true],
    ['126.0.0.1', false],
    ['[::]', false],
    ['example.com', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('loadProxyConfig: secret', () => {
  it('reads MCP_TUNNEL_SECRET_FILE and trims trailing whitespace only', () => {
    for (const [content, expected] of [
      [`${SECRET}\n`, SECRET],
      [`${SECRET}\r\n`, SECRET],
      [`${SECRET} \t\n\n`, SECRET],
      [`  ${SECRET}\n`, `  ${SECRET}`],
      [`a b ${SECRET}\n`, `a b ${SECRET}`],
    ]) {
      const file = tmp.write('secret', content as string);
      const config = loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET_FILE: file } });
      expect(config.secret).toBe(expected);
      expect(config.secretFile).toBe(file);
    }
  });

  it('refuses both MCP_TUNNEL_SECRET and MCP_TUNNEL_SECRET_FILE', () => {
    const file = tmp.write('secret', SECRET);
    const err = configError(() => load({ MCP_TUNNEL_SECRET_FILE: file }));
    expect(err.message).toBe('secret: set either MCP_TUNNEL_SECRET or MCP_TUNNEL_SECRET_FILE, not both');
    expect(err.message).not.toContain(SECRET);
  });

  it('refuses neither (an empty MCP_TUNNEL_SECRET counts as unset)', () => {
    const message = 'secret: must be set: MCP_TUNNEL_SECRET_FILE (or --secret-file), or MCP_TUNNEL_SECRET';
    expect(configError(() => loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK } })).message).toBe(message);
    expect(configError(() => loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET: '' } })).message).toBe(message);
  });

  it('refuses an empty or whitespace-only secret file', () => {
    for (const content of ['', '\n', ' \r\n\t ']) {
      const file = tmp.write('secret', content);
      const err = configError(() => loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET_FILE: file } }));
      expect(err.message).toBe(`secretFile: the secret in this file must not be empty (value: ${JSON.stringify(file)})`);
    }
  });

  it('reports an unreadable secret file by path', () => {
    const file = path.join(tmp.dir, 'missing');
    expect(configError(() => loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET_FILE: file } })).message).toBe(
      `secretFile: cannot be read (ENOENT) (value: ${JSON.stringify(file)})`,
    );
  });

  it('lets an override secretFile replace an env secret (what --secret-file does)', () => {
    const fromFile = 'from-the-file-0123456789abcdefghijklmnop';
    const file = tmp.write('secret', `${fromFile}\n`);
    expect(load({}, { secretFile: file, secret: null }).secret).toBe(fromFile);
  });

  it('refuses the placeholder secret without showing it', () => {
    const placeholder = 'CHANGE-ME-current-tunnel-secret-xyz';
    const err = configError(() => load({ MCP_TUNNEL_SECRET: placeholder }));
    expect(err.key).toBe('secret');
    expect(err.problem).toMatch(/placeholder/);
    expect(err.message).not.toContain(placeholder);
  });

  it('refuses secrets shorter than 32 bytes (MIN_SECRET_BYTES) on both sides, naming the generator', () => {
    expect(MIN_SECRET_BYTES).toBe(32);
    const short = 'x'.repeat(31);
    const err = configError(() => loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET: short } }));
    expect(err.message).toBe('secret: must be at least 32 bytes (it has 31); generate one with `mcp-tunnel secret generate` (value: "xx…(31 chars)")');
    expect(loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET: 'x'.repeat(32) } }).secret).toHaveLength(32);
    // Bytes, not characters: 11 three-byte characters are 33 bytes.
    expect(loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET: '€'.repeat(11) } }).secret).toHaveLength(11);
    const file = tmp.write('secret', `${short}\n`);
    const fileErr = configError(() => loadProxyConfig({ env: { MCP_TUNNEL_URL: URL_OK, MCP_TUNNEL_SECRET_FILE: file } }));
    expect(fileErr.key).toBe('secretFile');
    expect(fileErr.message).toContain('must be at least 32 bytes');
    const gwErr = configError(() => loadGatewayConfig({ env: {}, overrides: { tunnels: [{ id: 'a', secrets: [short] }] } }));
    expect(gwErr.key).toBe('tunnels[0].secrets[0]');
    expect(gwErr.message).not.toContain(short);
  });
});

describe('loadProxyConfig: config file', () => {
  it('resolves relative paths against the file folder', () => {
    const secretFile = tmp.write('etc/secret', `${SECRET}\n`);
    const ca = tmp.write('etc/ca.pem', CA_PEM);
    const file = tmp.write('etc/proxy.json', { url: URL_OK, secretFile: 'secret', caFile: './ca.pem' });
    const config = loadProxyConfig({ file, env: {} });
    expect(config.secretFile).toBe(secretFile);
    expect(config.caFile).toBe(ca);
    expect(config.secret).toBe(SECRET);
  });

  it('reads per-server TLS; fields left out inherit upstream.tls', () => {
    const ca = tmp.write('etc/internal-ca.pem', 'CA');
    const cert = tmp.write('etc/notes.crt', 'CERT');
    const key = tmp.write('etc/notes.key', 'KEY');
    const file = tmp.write('etc/proxy.json', {
      upstream: {
        tls: { ca: 'internal-ca.pem' },
        servers: {
          notes: { tls: { cert: 'notes.crt', key: 'notes.key', servername: 'notes.mesh' } },
          wiki: { tls: { rejectUnauthorized: false, ca: null } },
        },
      },
    });
    const config = loadProxyConfig({ file, env: env() });
    expect(config.upstream.tls).toEqual({ cert: null, key: null, ca, rejectUnauthorized: true, servername: null });
    expect(config.upstream.servers).toEqual({
      notes: { tls: { cert, key, ca, rejectUnauthorized: true, servername: 'notes.mesh' } },
      wiki: { tls: { cert: null, key: null, ca: null, rejectUnauthorized: false, servername: null } },
    });
  });

  it('validates per-server TLS', () => {
    const cases: Array<[unknown, string]> = [
      [{ 'bad name': { tls: {} } }, 'upstream.servers.bad name'],
      [{ notes: { tls: { crt: 'x' } } }, 'upstream.servers.notes.tls.crt'],
      [{ notes: { tls: { rejectUnauthorized: 'no' } } }, 'upstream.servers.notes.tls.rejectUnauthorized'],
      [{ notes: { tls: { ca: '' } } }, 'upstream.servers.notes.tls.ca'],
      [{ notes: { tls: null } }, 'upstream.servers.notes.tls'],
      [{ notes: { cert: 'x' } }, 'upstream.servers.notes.cert'],
      [{ notes: { tls: { ca: 'missing.pem' } } }, 'upstream.servers.notes.tls.ca'],
      [{ notes: { tls: { cert: tmp.write('c.crt', 'C') } } }, 'upstream.servers.notes.tls.key'],
      [{ constructor: { tls: {} } }, 'upstream.servers.constructor'],
    ];
    for (const [servers, key] of cases) {
      const file = tmp.write('proxy.json', { upstream: { servers } });
      expect(configError(() => loadProxyConfig({ file, env: env() })).key).toBe(key);
    }
  });

  it('refuses "__proto__" as a server name (regression: it silently replaced the prototype)', () => {
    const file = tmp.write('proxy.json', '{"upstream":{"servers":{"__proto__":{"tls":{"servername":"x"}}}}}');
    expect(configError(() => loadProxyConfig({ file, env: env() })).message).toBe(`${file}: must not contain a "__proto__" key`);

  });

  it('is not settable from env (per-server TLS is file only)', () => {
    const row = describeProxySchema().find((r) => r.key === 'upstream.servers');
    expect(row?.env).toBeNull();
  });

  it('refuses unknown keys and tunnelId (derived from the URL)', () => {
    const file = tmp.write('proxy.json', { tunnelId: 'x' });
    expect(configError(() => loadProxyConfig({ file, env: env() })).message).toBe('tunnelId: is not a known option');
  });
});

describe('describeProxySchema', () => {
  it('lists every documented env var once, with docs', () => {
    const rows = describeProxySchema();
    const envs = rows.map((r) => r.env).filter((e): e is string => e !== null);
    expect(new Set(envs).size).toBe(envs.length);
    expect(envs).toEqual(
      expect.arrayContaining([
        'MCP_TUNNEL_URL',
        'MCP_TUNNEL_SECRET',
        'MCP_TUNNEL_SECRET_FILE',
        'MCP_TUNNEL_CA_FILE',
        'MCP_TUNNEL_ALLOW_INSECURE',
        'MCP_TUNNEL_PROXY_NAME',
        'MCP_TUNNEL_RECONNECT_BASE_MS',
        'MCP_TUNNEL_RECONNECT_CAP_MS',
        'MCP_TUNNEL_RECONNECT_STABLE_MS',
        'MCP_TUNNEL_CONNECTIONS',
        'MCP_TUNNEL_DRAIN_GRACE_MS',
        'MCP_TUNNEL_MAX_CONNECTION_AGE_MS',
        'MCP_TUNNEL_HEARTBEAT_MS',
        'MCP_TUNNEL_MAX_STREAMS',
        'MCP_TUNNEL_UPSTREAM_CERT',
        'MCP_TUNNEL_UPSTREAM_KEY',
        'MCP_TUNNEL_UPSTREAM_CA',
        'MCP_TUNNEL_UPSTREAM_REJECT_UNAUTHORIZED',
        'MCP_TUNNEL_UPSTREAM_SERVERNAME',
        'MCP_TUNNEL_UPSTREAM_HEADERS_TIMEOUT_MS',
        'MCP_TUNNEL_UPSTREAM_CONNECT_TIMEOUT_MS',
        'MCP_TUNNEL_UPSTREAM_CONNECTIONS',
        'MCP_TUNNEL_LOG_LEVEL',
        'MCP_TUNNEL_AUDIT',
      ]),
    );
    for (const row of rows) expect(row.doc.length).toBeGreaterThan(10);
    expect(rows.find((r) => r.key === 'name')?.defaultText).toBe('the host name');
    expect(rows.find((r) => r.key === 'secret')?.sensitive).toBe(true);
    expect(rows.find((r) => r.key === 'upstream.tls.key')?.sensitive).toBe(true);
  });
});

describe('loadProxyConfig: pins and channel binding', () => {
  const HEX = 'a'.repeat(64);
  const HEX2 = '0123456789abcdef'.repeat(4);

  it('has no pins and does not require channel binding by default', () => {
    expect(load()).toMatchObject({ pins: [], requireChannelBinding: false });
  });

  it('reads MCP_TUNNEL_PIN_SHA256 as a comma-separated list of hex or base64 pins, normalised to lower-case hex', () => {
    const b64 = Buffer.from(HEX2, 'hex').toString('base64');
    const b64url = Buffer.from(HEX2, 'hex').toString('base64url');
    expect(b64).toMatch(/=$/);
    expect(load({ MCP_TUNNEL_PIN_SHA256: ` ${HEX.toUpperCase()} , ${b64}` }).pins).toEqual([HEX, HEX2]);
    expect(load({ MCP_TUNNEL_PIN_SHA256: `${b64url},${HEX2}` }).pins).toEqual([HEX2]);
    const colons = HEX2.match(/../g)?.join(':') ?? '';
    expect(load({ MCP_TUNNEL_PIN_SHA256: colons }).pins).toEqual([HEX2]);
    expect(load({ MCP_TUNNEL_PIN_SHA256: '' }).pins).toEqual([]);
  });

  it('takes pins as a JSON array in the config file', () => {
    const file = tmp.write('proxy.json', { pins: [HEX] });
    expect(loadProxyConfig({ file, env: env() }).pins).toEqual([HEX]);
  });

  it.each([
    ['too short', 'abc'],
    ['63 hex digits', 'a'.repeat(63)],
    ['base64 of 31 bytes', Buffer.alloc(31).toString('base64')],
    ['a SHA-1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
  ])('refuses a pin that is %s, naming its position', (_what, pin) => {
    const err = configError(() => load({ MCP_TUNNEL_PIN_SHA256: `${HEX},${pin}` }));
    expect(err.key).toBe('pins[1]');
    expect(err.problem).toMatch(/SHA-256 of a SubjectPublicKeyInfo/);
  });

  it('needs wss:// for pins and for requireChannelBinding', () => {
    const plain = { MCP_TUNNEL_URL: 'ws://127.0.0.1:8080/tunnel/corp' };
    expect(configError(() => load({ ...plain, MCP_TUNNEL_PIN_SHA256: HEX })).key).toBe('pins');
    expect(configError(() => load({ ...plain, MCP_TUNNEL_REQUIRE_CHANNEL_BINDING: 'true' })).key).toBe('requireChannelBinding');
    expect(load({ MCP_TUNNEL_REQUIRE_CHANNEL_BINDING: 'yes' }).requireChannelBinding).toBe(true);
  });
});
