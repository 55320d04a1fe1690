/**
 * `mcp-tunnel status` of a cluster (issue 14, Interface): two gateway replicas and a proxy as child
 * processes of the built CLI (run `npm run build` first) sharing a real redis-server; every
 * replica's status lists both replicas and which tunnels each holds.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StatusReport } from '../../../src/ops';
import { scrape } from '../../helpers/prometheus';
import { spawnCli, stopAllProcesses, type SpawnedProcess } from '../../helpers/process';
import { waitFor } from '../../helpers/wait-for';
import { freePort, redisAvailable, startRedis, type RedisChild } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

run('cluster: mcp-tunnel status (child processes)', () => {
  let dir: string;
  let redis: RedisChild | null = null;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-cluster-status-'));
  });

  afterEach(async () => {
    await stopAllProcesses();
    await redis?.close();
    redis = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  async function startReplica(n: number, redisUrl: string, tunnelSecret: string, clusterSecretFile: string): Promise<{ proc: SpawnedProcess; ops: string; url: string }> {
    const hop = await freePort();
    const config = write(
      `gateway-${n}.json`,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'corp', secrets: [tunnelSecret] }, { id: 'lab', secrets: [randomBytes(32).toString('base64url')] }],
        servers: [{ name: 'notes', tunnel: 'corp', url: 'http://127.0.0.1:9/mcp' }],
        clients: [{ name: 'alice', apiKey: randomBytes(24).toString('base64url'), servers: ['*'] }],
        ops: { listen: '127.0.0.1:0' },
        cluster: { redis: redisUrl, advertise: `http://127.0.0.1:${hop}`, listen: `127.0.0.1:${hop}`, secretFile: clusterSecretFile },
      }),
    );
    const proc = spawnCli(['gateway', '--config', config], { cleanEnv: true });
    const ops = String((await proc.waitForJson((e) => e.msg === 'ops listener ready')).url);
    const url = String((await proc.waitForJson((e) => e.msg === 'gateway listening')).url);
    return { proc, ops, url };
  }

  async function status(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
    const proc = spawnCli(['status', ...args], { cleanEnv: true });
    const { code } = await proc.exited;
    return { code, out: proc.stdout.join('\n'), err: proc.stderr.join('\n') };
  }

  async function report(ops: string): Promise<StatusReport> {
    const r = await status(['--url', ops, '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.out) as StatusReport;
  }

  it('lists every replica and the tunnels it holds, as JSON and as a table, on every replica', async () => {
    redis = await startRedis();
    const tunnelSecret = randomBytes(32).toString('base64url');
    const clusterSecret = write('cluster.secret', `${randomBytes(32).toString('base64url')}\n`);
    const a = await startReplica(0, redis.url, tunnelSecret, clusterSecret);
    const b = await startReplica(1, redis.url, tunnelSecret, clusterSecret);
    const proxy = spawnCli(['proxy', '--url', `${a.url.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', write('tunnel.secret', `${tunnelSecret}\n`)], {
      cleanEnv: true,
      env: { MCP_TUNNEL_PROXY_NAME: 'px-one', MCP_TUNNEL_CONNECTIONS: '1' },
    });
    await proxy.waitForJson((e) => e.msg === 'tunnel connected and authenticated');

    // B learns A's connection through Redis presence (refreshed every second).
    let seen: StatusReport | null = null;
    await waitFor(async () => {
      seen = await report(b.ops);
      return seen.cluster?.replicas.length === 2 && seen.cluster.replicas.some((r) => r.tunnels.length === 1);
    }, { message: 'replica B sees both replicas and the proxy on A' });
    const fromB = seen!.cluster!;
    const fromA = (await report(a.ops)).cluster!;
    expect(fromA.redis).toBe('ok');
    expect(fromB.redis).toBe('ok');
    expect(fromA.replicaId).not.toBe(fromB.replicaId);
    // Both views list the same replicas; each marks itself.
    expect(fromA.replicas.map((r) => r.id)).toEqual(fromB.replicas.map((r) => r.id));
    const holderSeenByB = fromB.replicas.find((r) => r.id === fromA.replicaId)!;
    expect(holderSeenByB).toMatchObject({ self: false, tunnels: [{ tunnel: 'corp', proxy: 'px-one', load: 0, conn: expect.any(String) }] });
    expect(fromB.replicas.find((r) => r.id === fromB.replicaId)).toMatchObject({ self: true, tunnels: [] });
    // B reaches A's connection through one hop.
    await waitFor(async () => (await report(b.ops)).cluster?.hops === 1, { message: 'B opened its hop to A' });

    const table = await status(['--url', b.ops]);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`cluster replica ${fromB.replicaId}  redis ok  replicas 2  hops 1`);
    expect(table.out).toMatch(/^REPLICA +ADVERTISE +SELF +TUNNELS +LOAD +REDIS$/m);
    expect(table.out).toMatch(new RegExp(`^${fromA.replicaId} +http://127\\.0\\.0\\.1:\\d+ +no +corp +0 +ok$`, 'm'));
    expect(table.out).toMatch(new RegExp(`^${fromB.replicaId} +http://127\\.0\\.0\\.1:\\d+ +yes +- +0 +ok$`, 'm'));
    const before = await scrape(b.ops);
    expect(before.get('mcp_tunnel_cluster_redis_up')).toBe(1);
    expect(before.get('mcp_tunnel_cluster_replicas')).toBe(2);

    // Redis down: B reports itself degraded (status and metrics) and sees no other replica.
    await redis.close();
    redis = null;
    await waitFor(async () => (await report(b.ops)).cluster?.redis === 'degraded', { message: 'B degraded' });
    const degraded = await status(['--url', b.ops]);
    expect(degraded.out).toMatch(new RegExp(`^${fromB.replicaId} +\\S+ +yes +- +0 +degraded$`, 'm'));
    expect(degraded.out).not.toContain(`${fromA.replicaId} `);
    const during = await scrape(b.ops);
    expect(during.get('mcp_tunnel_cluster_redis_up')).toBe(0);
    expect(during.get('mcp_tunnel_cluster_replicas')).toBe(1);
  });
});
