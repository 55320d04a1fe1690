import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GatewayConfig } from '../../../src/config';
import { startProxy, type RunningProxy } from '../../../src/proxy';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers/wait-for';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { expectedIds, newSecret, readStream, recordStatus, replaceFile, tempDir } from './helpers';

describe('hot secret rotation: proxies that cannot follow', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  let tmp: ReturnType<typeof tempDir>;
  const extra: RunningProxy[] = [];
  const cleanups: Array<() => void> = [];

  beforeEach(async () => {
    tmp = tempDir();
    upstream = await startStreamableUpstream();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0)) c();
    await Promise.all(extra.splice(0).map((p) => p.close(0)));
    await h.close();
    await upstream.close();
    tmp.cleanup();
  });

  const withSecrets = (secrets: string[]): GatewayConfig => ({ ...h.gatewayConfig, tunnels: [{ id: 'corp', secrets }] });

  async function echoVia(): Promise<{ status: number; conn: unknown }> {
    const res = await fetch(h.mcpUrl('echo'), { method: 'POST', headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' }, body: '{}' });
    await res.arrayBuffer();
    const rid = res.headers.get('x-request-id');
    const record = await waitFor(() => h.gatewayAudit.lines.find((l) => l.status === res.status && l.path === '/mcp/echo' && (rid === null || l.rid === rid) && !seen.has(l)));
    seen.add(record);
    return { status: res.status, conn: record.conn };
  }
  const seen = new Set<Record<string, unknown>>();

  it('a proxy that never got the new secret is drained (its resumable stream handed over), then fails authentication and backs off', async () => {
    h = await startHarness({
      servers: [
        { name: 'sse', url: `${upstream.origin}/raw/sse` },
        { name: 'echo', url: `${upstream.origin}/raw/echo-headers` },
      ],
      gateway: (c) => {
        c.rotation.graceMs = 300;
      },
    });
    const stale = h.proxy!;
    const staleStatus = recordStatus(stale);
    cleanups.push(() => staleStatus.sub.unsubscribe());
    const [staleConn] = h.gateway.registry.connections('corp');
    const oldSecret = h.secret;
    const next = newSecret();

    // A long request on the stale proxy's connection (the only one yet): 40 events, 50 ms apart.
    let flowing = false;
    const long = readStream(h, 'sse', '?events=40&intervalMs=50', () => (flowing = true));
    await waitFor(() => flowing, { message: 'the long stream to start' });

    // Make: the new secret is listed and a second proxy (an updated replica) connects with it.
    h.gateway.reload(withSecrets([next, oldSecret]));
    const fresh = await h.addProxy((c) => {
      c.secret = next;
      c.name = 'fresh-proxy';
    });
    extra.push(fresh);
    const freshConn = h.gateway.registry.connections('corp').find((c) => c.proxyName === 'fresh-proxy')!;
    expect(freshConn).toBeDefined();

    // Break: the old secret is removed. The stale proxy answers the challenge with the old secret.
    h.gateway.reload(withSecrets([next]));
    await waitFor(() => h.logs.find((l) => l.code === 'TUNNEL_REAUTH_FAILED' && l.conn === staleConn!.id && String(l.msg).startsWith('gateway rejected the tunnel secret in-band')), {
      message: "the stale proxy's rejected re-authentication",
    });
    const draining = await waitFor(() => h.logs.find((l) => l.code === 'TUNNEL_SECRET_REVOKED' && String(l.msg).includes('draining')), { message: 'the drain' });
    expect(draining.inFlight).toBe(1);
    expect(staleConn!.mux.isDraining).toBe(true);
    expect(staleConn!.mux.isClosed).toBe(false);

    // New requests during the drain go to the proxy with the current secret.
    for (let i = 0; i < 5; i++) expect(await echoVia()).toEqual({ status: 200, conn: freshConn.id });

    // The in-flight stream's events carry ids, so the drain hands it over to the fresh proxy instead of
    // waiting for it (issue 13; docs/operations.md "Continuity"): the stale connection closes (4401)
    // before the stream ends, and the client still gets every event exactly once, on one response.
    const result = await long;
    expect(result).toMatchObject({ status: 200, error: null });
    expect(result.ids).toEqual(expectedIds(40));
    const closed = await waitFor(() => h.logs.find((l) => l.msg === 'drained tunnel connection closed (4401)'), { message: 'the close' });
    expect(Number(closed.time)).toBeLessThan(result.lastAt);
    const streamRecord = await waitFor(() => h.gatewayAudit.lines.find((l) => l.server === 'sse' && l.httpMethod === 'GET'), { message: "the stream's audit record" });
    expect(streamRecord).toMatchObject({ outcome: 'ok', resumptions: 1 });
    expect(h.gatewayAudit.lines.filter((l) => l.outcome !== 'ok')).toEqual([]);

    // The stale proxy logs a permanent authentication failure and backs off to the slow interval.
    const refused = await waitFor(() => h.logs.find((l) => l.msg === 'tunnel connection refused permanently; retrying slowly' && l.code === 'TUNNEL_AUTH_FAILED'), {
      message: 'the permanent failure log line',
    });
    expect(refused).toMatchObject({ level: 50, permanent: true });
    expect(refused.delayMs).toBeGreaterThanOrEqual(30_000);
    await waitFor(() => staleStatus.states.some((s) => s.state === 'waiting' && s.permanent && s.code === 'TUNNEL_AUTH_FAILED'));
    expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual([freshConn.id]);

    // A fresh handshake with the old secret is refused the same way (TUNNEL_AUTH_FAILED, permanent).
    const again = startProxy({ ...h.proxyConfig, name: 'old-again' }, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger });
    extra.push(again);
    const againStatus = recordStatus(again);
    cleanups.push(() => againStatus.sub.unsubscribe());
    await waitFor(() => againStatus.states.find((s) => s.state === 'waiting'));
    expect(againStatus.states.find((s) => s.state === 'waiting')).toMatchObject({ code: 'TUNNEL_AUTH_FAILED', permanent: true });
  });

  it('the gateway rejects the proxy\'s new secret: the live session stays up on the old one, requests keep working, the error is logged', async () => {
    const secretFile = path.join(tmp.dir, 'secret');
    h = await startHarness({
      servers: [{ name: 'echo', url: `${upstream.origin}/raw/echo-headers` }],
      proxy: (c) => {
        fs.writeFileSync(secretFile, `${c.secret}\n`, { mode: 0o600 });
        c.secretFile = secretFile;
      },
    });
    const status = recordStatus(h.proxy!);
    cleanups.push(() => status.sub.unsubscribe());
    const [conn] = h.gateway.registry.connections('corp');
    expect((await echoVia()).status).toBe(200);

    // The proxy gets a secret the gateway does not know (the operator skipped "add it to the gateway").
    const unknown = newSecret();
    replaceFile(secretFile, `${unknown}\n`);
    const rejected = await waitFor(() => h.logs.find((l) => l.code === 'TUNNEL_REAUTH_FAILED' && String(l.msg).startsWith('gateway rejected the tunnel secret in-band')), {
      message: 'the rejection on the proxy',
    });
    expect(rejected).toMatchObject({ level: 50, component: 'connection', reason: 'proof matches no current secret of the tunnel' });
    expect(h.logs.find((l) => l.code === 'TUNNEL_REAUTH_FAILED' && l.msg === 'in-band re-authentication failed')).toBeDefined();

    for (let i = 0; i < 5; i++) expect(await echoVia()).toEqual({ status: 200, conn: conn!.id });
    expect(conn!.mux.isDraining).toBe(false);

    // A broken file is ignored too, and the watch goes on.
    replaceFile(secretFile, '\n');
    await waitFor(() => h.logs.find((l) => l.code === 'TUNNEL_SECRET_FILE_INVALID'), { message: 'the invalid file log' });
    expect((await echoVia()).status).toBe(200);

    // Once the gateway lists it, SIGHUP (the file still holds the same secret) re-authenticates in-band.
    h.gateway.reload(withSecrets([h.secret, unknown]));
    replaceFile(secretFile, `${unknown}\n`);
    h.proxy!.reloadSecret();
    await waitFor(() => h.logs.find((l) => l.msg === 'proxy re-authenticated in-band' && l.secretIndex === 1), { message: 'the successful re-authentication' });
    h.gateway.reload(withSecrets([unknown]));
    expect((await echoVia()).status).toBe(200);
    expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual([conn!.id]);
    expect(status.states.map((s) => s.state)).toEqual(['connected']);
    expect(h.logs.find((l) => l.code === 'TUNNEL_SECRET_REVOKED')).toBeUndefined();
  });
});
