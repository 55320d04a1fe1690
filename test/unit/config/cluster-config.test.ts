import { loadGatewayConfig } from '../../../src/config';
import { parseClusterUrl, parseSentinelUrl } from '../../../src/config/redis-url';
import { configError, tempDir } from './helpers';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  tmp.cleanup();
});

describe('gateway config: cluster', () => {
  it('is null without cluster.redis (a single gateway, as before)', () => {
    expect(loadGatewayConfig({ env: {} }).cluster).toBeNull();
  });

  it('reads every key from the MCP_TUNNEL_CLUSTER_* env vars', () => {
    const secretFile = tmp.write('cluster.secret', 'cluster-secret-0123456789abcdefghijk\n');
    const env = {
      MCP_TUNNEL_CLUSTER_REDIS: 'redis://127.0.0.1:6379/2',
      MCP_TUNNEL_CLUSTER_ADVERTISE: 'http://10.0.0.7:7443/',
      MCP_TUNNEL_CLUSTER_LISTEN: '0.0.0.0:7443',
      MCP_TUNNEL_CLUSTER_SECRET_FILE: secretFile,
    };
    expect(loadGatewayConfig({ env }).cluster).toEqual({ redis: 'redis://127.0.0.1:6379/2', advertise: 'http://10.0.0.7:7443', listen: '0.0.0.0:7443', secretFile });
  });

  it('refuses a half-configured cluster, naming the missing key', () => {
    expect(configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { redis: 'redis://127.0.0.1:6379' } } })).key).toBe('cluster.advertise');
    expect(configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { listen: '127.0.0.1:7443' } } })).key).toBe('cluster.listen');
    const err = configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { redis: 'http://x:1', advertise: 'http://a:1', listen: '127.0.0.1:1', secretFile: '/x' } } }));
    expect(err.key).toBe('cluster.redis');
  });

  it('refuses an unreadable secret file and a listen address that is not an IP', () => {
    const base = { redis: 'redis://127.0.0.1:6379', advertise: 'http://a:1', listen: '127.0.0.1:1' };
    expect(configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { ...base, secretFile: '/nonexistent/secret' } } })).key).toBe('cluster.secretFile');
    expect(configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { ...base, listen: 'example.com:1', secretFile: '/x' } } })).key).toBe('cluster.listen');
  });
});

describe('cluster.redis: Sentinel URLs', () => {
  it('parses the sentinels, master, db and credentials', () => {
    expect(parseSentinelUrl('redis-sentinel://u:p%40ss@10.0.0.1:26379,[::1]:26380/mymaster/2')).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      db: 2,
      username: 'u',
      password: 'p@ss',
    });
    expect(parseSentinelUrl('redis://127.0.0.1:6379/0')).toBeNull();
  });

  it('refuses a malformed one at load time', () => {
    const secretFile = tmp.write('s', 'cluster-secret-0123456789abcdefghijk');
    const err = configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { redis: 'redis-sentinel://h:notaport/m', advertise: 'http://a:1', listen: '127.0.0.1:1', secretFile } } }));
    expect(err.key).toBe('cluster.redis');
    expect(err.problem).toBe('sentinel address "h:notaport" is not HOST:PORT');
  });
});

describe('cluster.redis: Redis Cluster URLs', () => {
  it('parses the seed nodes, credentials and TLS', () => {
    expect(parseClusterUrl('redis-cluster://u:p%40ss@10.0.0.1:7000,[::1]:7001/')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      username: 'u',
      password: 'p@ss',
      tls: false,
    });
    expect(parseClusterUrl('rediss-cluster://10.0.0.1:7000')).toEqual({ nodes: [{ host: '10.0.0.1', port: 7000 }], tls: true });
    expect(parseClusterUrl('redis://127.0.0.1:6379/0')).toBeNull();
    expect(parseClusterUrl('redis-sentinel://127.0.0.1:26379/m')).toBeNull();
  });

  it('refuses a DB or a bad address at load time, and takes a good one', () => {
    const secretFile = tmp.write('s', 'cluster-secret-0123456789abcdefghijk');
    const load = (redis: string) => configError(() => loadGatewayConfig({ env: {}, overrides: { cluster: { redis, advertise: 'http://a:1', listen: '127.0.0.1:1', secretFile } } }));
    expect(load('redis-cluster://h:7000/2').problem).toMatch(/no DB: Redis Cluster has only DB 0/);
    expect(load('redis-cluster://h:7000,h2/').problem).toBe('cluster node address "h2" is not HOST:PORT');
    const ok = loadGatewayConfig({ env: {}, overrides: { cluster: { redis: 'redis-cluster://h:7000,h2:7001', advertise: 'http://a:1', listen: '127.0.0.1:1', secretFile } } });
    expect(ok.cluster?.redis).toBe('redis-cluster://h:7000,h2:7001');
  });
});
