import * as fs from 'node:fs';
import * as path from 'node:path';
import { Subject } from 'rxjs';
import { startGatewayReloads } from '../../../src/cli/reload';
import type { GatewayConfig } from '../../../src/config';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers/wait-for';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import type { ConnectedClient } from '../../helpers/mcp-client';
import { callLoop, expectedIds, stopCallLoops, k8sSecretVolume, mcpClients, newSecret, readStream, recordStatus, replaceFile, tempDir, type SseStreamResult } from './helpers';

const STREAMS = 50;
const EVENTS = 250; // 250 × 20 ms: every stream spans the whole rotation
const CALLERS = 4;

describe('hot secret rotation under load (make-before-break)', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  let tmp: ReturnType<typeof tempDir>;
  let clients: ConnectedClient[] = [];
  const cleanups: Array<() => void> = [];

  beforeEach(async () => {
    tmp = tempDir();
    upstream = await startStreamableUpstream();
  });
  afterEach(async () => {
    await stopCallLoops();
    for (const c of cleanups.splice(0)) c();
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await h.close();
    await upstream.close();
    tmp.cleanup();
  });

  async function start(secretFile: (secret: string) => string): Promise<void> {
    h = await startHarness({
      servers: [
        { name: 'notes', url: upstream.url },
        { name: 'sse', url: `${upstream.origin}/raw/sse` },
      ],
      gateway: (c) => {
        c.rotation.graceMs = 5000;
      },
      proxy: (c) => {
        c.secretFile = secretFile(c.secret);
      },
    });
  }

  /** Starts the load, runs `rotate`, and checks that nothing failed and nothing reconnected. */
  async function underLoad(rotate: () => Promise<void>): Promise<{ streams: SseStreamResult[]; calls: number }> {
    const connsBefore = h.gateway.registry.connections('corp').map((c) => c.id);
    expect(connsBefore).toHaveLength(1);
    const status = recordStatus(h.proxy!);
    cleanups.push(() => status.sub.unsubscribe());
    clients = await mcpClients(h, CALLERS);
    let started = 0;
    const streams = Array.from({ length: STREAMS }, () => readStream(h, 'sse', `?events=${EVENTS}&intervalMs=20`, () => started++));
    const calls = callLoop(clients);
    await waitFor(() => started === STREAMS && calls.ok >= 20, { timeoutMs: 10_000, message: 'every stream to deliver its first event' });

    await rotate();
    const rotatedAt = Date.now();
    const callsAtRotation = calls.ok;
    await waitFor(() => calls.ok >= callsAtRotation + 20, { timeoutMs: 10_000, message: 'tool calls after the rotation' });
    const results = await Promise.all(streams);
    await calls.stop();

    expect(calls.failed).toEqual([]);
    for (const r of results) {
      expect(r).toMatchObject({ status: 200, error: null });
      expect(r.ids).toEqual(expectedIds(EVENTS));
      // Each stream was still flowing after the rotation finished.
      expect(r.lastAt).toBeGreaterThan(rotatedAt);
    }
    expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual(connsBefore);
    expect(status.states.map((s) => s.state)).toEqual(['connected']);
    expect(h.logs.lines.filter((l) => l.code === 'TUNNEL_SECRET_REVOKED' || l.code === 'TUNNEL_REAUTH_FAILED')).toEqual([]);
    return { streams: results, calls: calls.ok };
  }

  it('in-process: reload() adds the new secret, the secret file is replaced, reload() removes the old one', async () => {
    const secretFile = path.join(tmp.dir, 'secret');
    await start((s) => {
      fs.writeFileSync(secretFile, `${s}\n`, { mode: 0o600 });
      return secretFile;
    });
    const oldSecret = h.secret;
    const next = newSecret();
    const withSecrets = (secrets: string[]): GatewayConfig => ({ ...h.gatewayConfig, tunnels: [{ id: 'corp', secrets }] });

    const { calls } = await underLoad(async () => {
      h.gateway.reload(withSecrets([oldSecret, next]));
      replaceFile(secretFile, `${next}\n`);
      await waitFor(() => h.logs.find((l) => l.msg === 'proxy re-authenticated in-band' && l.secretIndex === 1), { message: 'the in-band re-authentication' });
      h.gateway.reload(withSecrets([next]));
    });
    expect(calls).toBeGreaterThan(40);
    expect(h.logs.find((l) => l.msg === 'tunnel connection re-authenticated in-band with the current secret')).toBeDefined();
  });

  it('real mechanisms: config file watch + SIGHUP on the gateway, a Kubernetes-style symlink swap on the proxy', async () => {
    const volume = tmp.dir + '/volume';
    fs.mkdirSync(volume);
    let k8s: ReturnType<typeof k8sSecretVolume> | undefined;
    await start((s) => {
      k8s = k8sSecretVolume(volume, s);
      return k8s.file;
    });
    const oldSecret = h.secret;
    const next = newSecret();
    const configFile = path.join(tmp.dir, 'gateway.json');
    const configWith = (secrets: string[]): string =>
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'corp', secrets }],
        servers: h.gatewayConfig.servers,
        clients: h.gatewayConfig.clients,
        rotation: { graceMs: 5000 },
      });
    fs.writeFileSync(configFile, configWith([oldSecret]));
    const sighup = new Subject<'SIGHUP'>();
    const reloads = startGatewayReloads({
      file: configFile,
      env: {},
      signals$: sighup,
      reload: (c) => h.gateway.reload(c),
      initial: h.gatewayConfig,
      logger: h.logs.logger,
      debounceMs: 50,
    });
    cleanups.push(() => reloads.unsubscribe());
    const reloaded = (trigger: string, n: number) => () => h.logs.lines.filter((l) => l.msg === 'reloading configuration' && l.trigger === trigger).length >= n;

    const { calls } = await underLoad(async () => {
      // 1. The new secret is added to the gateway's list: picked up from the file change alone.
      replaceFile(configFile, configWith([next, oldSecret]));
      await waitFor(reloaded('file changed', 1), { message: 'the file-triggered reload' });
      // 2. The proxy's secret volume is swapped; the proxy notices and re-authenticates in-band.
      k8s!.swap(next);
      await waitFor(() => h.logs.find((l) => l.msg === 'proxy re-authenticated in-band' && l.secretIndex === 0), { message: 'the in-band re-authentication' });
      // 3. The old secret is removed, and the operator sends SIGHUP.
      replaceFile(configFile, configWith([next]));
      sighup.next('SIGHUP');
      await waitFor(reloaded('SIGHUP', 1), { message: 'the SIGHUP reload' });
    });
    expect(calls).toBeGreaterThan(40);
    expect(h.gatewayConfig.tunnels[0]?.secrets).toEqual([oldSecret]); // the harness' copy; the gateway runs the file's
  });
});
