import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ProxyConfig } from '../../../src/config/types';
import { CloseCode } from '../../../src/protocol';
import { startProxy, type ProxyStatus, type RunningProxy } from '../../../src/proxy';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { TestCa, type CertFiles } from '../../helpers/certs';
import { Resources } from '../../helpers/close-all';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { waitFor } from '../../helpers/wait-for';
import { startRelay } from './tls-relay';

let ca: TestCa;
let upstream: StreamableUpstreamHandle;
const res = new Resources();

beforeAll(() => {
  ca = new TestCa();
});
afterAll(() => {
  ca.cleanup();
});
beforeEach(async () => {
  upstream = await startStreamableUpstream();
});
afterEach(async () => {
  await res.closeAll();
  await upstream.close();
});

/** The gateway's certificate files as a deployment holds them: a folder that renewals replace. */
function liveFolder(initial: CertFiles): { cert: string; key: string; replaceWith(next: CertFiles): void } {
  const dir = fs.mkdtempSync(path.join(ca.dir, 'live-'));
  const cert = path.join(dir, 'gateway.crt');
  const key = path.join(dir, 'gateway.key');
  fs.copyFileSync(initial.cert, cert);
  fs.copyFileSync(initial.key, key);
  return {
    cert,
    key,
    // Write beside, then rename over: the atomic replacement certbot and Kubernetes do.
    replaceWith(next) {
      fs.copyFileSync(next.key, `${key}.tmp`);
      fs.copyFileSync(next.cert, `${cert}.tmp`);
      fs.renameSync(`${key}.tmp`, key);
      fs.renameSync(`${cert}.tmp`, cert);
    },
  };
}

async function tlsHarness(files: { cert: string; key: string } | null, proxy?: (c: ProxyConfig) => void, startProxyToo = true): Promise<Harness> {
  const h = await startHarness({
    servers: [{ name: 'notes', url: upstream.url }],
    gateway: (c) => {
      c.tls = files;
    },
    proxy: (c) => {
      c.caFile = ca.caCert;
      proxy?.(c);
    },
    startProxy: startProxyToo,
  });
  return res.add(h);
}

/** The certificate a brand-new TLS connection to the gateway is shown (SHA-256 fingerprint). */
function presentedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: [ca.caPem()] }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

/** An MCP client that trusts the test CA. */
async function mcpClient(h: Harness): Promise<Client> {
  const agent = new Agent({ connect: { ca: ca.caPem() } });
  res.defer(() => agent.close());
  const transport = new StreamableHTTPClientTransport(h.mcpUrl('notes'), {
    requestInit: { headers: { Authorization: `Bearer ${h.apiKey}` } },
    // undici's fetch with a dispatcher that trusts the test CA (the global fetch would not).
    fetch: (url, init) => undiciFetch(url, { ...(init as object), dispatcher: agent }),
  });
  const client = new Client({ name: 'tls-test', version: '1' });
  await client.connect(transport);
  res.defer(() => client.close());
  return client;
}

async function echo(client: Client, text: string): Promise<void> {
  const r = await client.callTool({ name: 'echo', arguments: { text } });
  expect(JSON.stringify(r.content)).toContain(text);
}

/** Starts a proxy outside the harness (for configurations that never become ready). */
function rawProxy(h: Harness, mutate: (c: ProxyConfig) => void): { proxy: RunningProxy; last: () => ProxyStatus | undefined } {
  const config = structuredClone(h.proxyConfig);
  mutate(config);
  const proxy = startProxy(config, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger });
  res.defer(() => proxy.close(0));
  let last: ProxyStatus | undefined;
  const sub = proxy.status$.subscribe((s) => (last = s));
  res.defer(() => sub.unsubscribe());
  return { proxy, last: () => last };
}

function connectionIdOf(s: ProxyStatus | undefined): string | null {
  return s?.state === 'connected' ? s.connectionId : null;
}

describe('gateway TLS with certificate hot reload', () => {
  it('serves the new certificate to new connections after the files are replaced; tunnel and tool calls keep working', async () => {
    const a = ca.issue('reload-a');
    const b = ca.issue('reload-b');
    expect(a.spkiSha256).not.toBe(b.spkiSha256);
    const live = liveFolder(a);
    const h = await tlsHarness(live);
    expect(h.gateway.url).toMatch(/^https:/);
    expect(h.proxyConfig.url).toMatch(/^wss:/);
    let status: ProxyStatus | undefined;
    const sub = h.proxy!.status$.subscribe((s) => (status = s));
    res.defer(() => sub.unsubscribe());
    const firstConnection = connectionIdOf(status);
    expect(firstConnection).not.toBeNull();

    expect(await presentedFingerprint(h.gateway.port)).toBe(a.fingerprint256);
    const client = await mcpClient(h);
    await echo(client, 'before renewal');

    live.replaceWith(b);
    await waitFor(async () => (await presentedFingerprint(h.gateway.port)) === b.fingerprint256, { timeoutMs: 10_000, message: 'a new TLS connection to present certificate B' });
    expect(h.logs.find((l) => l.msg === 'TLS certificate reloaded; new connections use it')).toMatchObject({ spkiSha256: b.spkiSha256, cert: live.cert });

    // The established tunnel connection is untouched, and requests keep flowing over it.
    expect(connectionIdOf(status)).toBe(firstConnection);
    await echo(client, 'after renewal');

    // A reconnecting proxy verifies certificate B against the CA and authenticates (bound to the new session).
    for (const c of h.gateway.registry.all()) c.mux.close(CloseCode.GOING_AWAY, 'test: reconnect');
    await waitFor(() => {
      const id = connectionIdOf(status);
      return id !== null && id !== firstConnection;
    }, { timeoutMs: 10_000, message: 'the proxy to reconnect' });
    await echo(client, 'after reconnect');
  });

  it('keeps the current certificate when the new pair is unusable, and logs it at error', async () => {
    const a = ca.issue('bad-a');
    const b = ca.issue('bad-b');
    const live = liveFolder(a);
    const h = await tlsHarness(live);
    // Certificate B with key A: a pair that does not match.
    fs.copyFileSync(b.cert, `${live.cert}.tmp`);
    fs.renameSync(`${live.cert}.tmp`, live.cert);
    const failure = await waitFor(() => h.logs.find((l) => l.code === 'TUNNEL_GATEWAY_TLS_RELOAD_FAILED'), { timeoutMs: 10_000, message: 'the reload failure log line' });
    expect(failure.level).toBe(50);
    expect(String(failure.err)).toMatch(/TUNNEL_GATEWAY_TLS_INVALID/);
    expect(await presentedFingerprint(h.gateway.port)).toBe(a.fingerprint256);
    await echo(await mcpClient(h), 'still serving');
  });
});

describe('proxy certificate pinning (MCP_TUNNEL_PIN_SHA256)', () => {
  it('connects when the pin matches the gateway key', async () => {
    const a = ca.issue('pin-ok');
    const h = await tlsHarness(a, (c) => {
      c.pins = [a.spkiSha256];
    });
    await echo(await mcpClient(h), 'pinned');
  });

  it('refuses a gateway whose key matches no pin: permanent TUNNEL_PIN_MISMATCH naming both', async () => {
    const a = ca.issue('pin-bad');
    const other = ca.issue('pin-other');
    const h = await tlsHarness(a, undefined, false);
    const { last } = rawProxy(h, (c) => {
      c.pins = [other.spkiSha256];
    });
    const waiting = await waitFor(() => {
      const s = last();
      return s?.state === 'waiting' ? s : null;
    }, { message: 'the pinned proxy to give up' });
    expect(waiting).toMatchObject({ code: 'TUNNEL_PIN_MISMATCH', permanent: true });
    expect(waiting.error).toContain(other.spkiSha256);
    expect(waiting.error).toContain(a.spkiSha256);
    expect(h.gateway.registry.all()).toHaveLength(0);
    const line = h.logs.find((l) => l.code === 'TUNNEL_PIN_MISMATCH');
    expect(line?.msg).toBe('tunnel connection refused permanently; retrying slowly');
  });

  it('accepts any one of several pins (rollover): the second one matching is enough', async () => {
    const a = ca.issue('pin-roll');
    const next = ca.issue('pin-next');
    const h = await tlsHarness(a, (c) => {
      c.pins = [next.spkiSha256, a.spkiSha256];
    });
    await echo(await mcpClient(h), 'rollover');
  });
});

describe('channel binding (tls-exporter): a relayed handshake is worthless', () => {
  it('the gateway rejects a proof relayed from another TLS session (4401, TUNNEL_AUTH_FAILED)', async () => {
    const gw = ca.issue('cb-gateway');
    const relayCert = ca.issue('cb-relay');
    const h = await tlsHarness(gw, undefined, false);
    const relay = res.add(await startRelay({ tls: relayCert, target: h.gateway.url.replace(/^https/, 'wss'), ca: ca.caPem() }));
    const { last } = rawProxy(h, (c) => {
      c.url = `${relay.url}/tunnel/corp`;
    });
    const waiting = await waitFor(() => {
      const s = last();
      return s?.state === 'waiting' ? s : null;
    }, { message: 'the relayed proxy to be refused' });
    expect(relay.hellos.map((m) => m.binding)).toEqual(['tls-exporter']);
    expect(relay.counts.up).toBeGreaterThanOrEqual(1); // the auth message did reach the gateway
    // The proxy tells the relay from a wrong secret: the gateway's close names its TLS session.
    expect(waiting).toMatchObject({ code: 'TUNNEL_CHANNEL_BINDING_MISMATCH', permanent: true });
    const failed = h.logs.find((l) => l.code === 'TUNNEL_AUTH_FAILED' && l.msg === 'tunnel handshake failed');
    expect(failed).toMatchObject({ close: 'AUTH_FAILED' });
    expect(String(failed?.reason)).toMatch(/bound to another TLS session \(gateway TLS session [0-9a-f]{8}\)/);
    expect(h.gateway.registry.all()).toHaveLength(0);

    // The same proxy configuration straight to the gateway authenticates: only the relay broke it.
    await h.addProxy();
    await echo(await mcpClient(h), 'direct');
  });

  it('control: the same relay succeeds when binding is off on both ends (gateway without TLS, binding "none")', async () => {
    const relayCert = ca.issue('cb-control-relay');
    const h = await tlsHarness(null, undefined, false);
    const relay = res.add(await startRelay({ tls: relayCert, target: h.gateway.url.replace(/^http/, 'ws'), ca: ca.caPem() }));
    const { proxy } = rawProxy(h, (c) => {
      c.url = `${relay.url}/tunnel/corp`;
    });
    await proxy.ready;
    expect(relay.hellos.map((m) => m.binding)).toEqual(['none']);
    expect(h.gateway.registry.all()).toHaveLength(1);
  });

  it('a proxy whose connection is not TLS refuses a gateway announcing tls-exporter (TLS terminated in between)', async () => {
    const gw = ca.issue('cb-plain-gateway');
    const h = await tlsHarness(gw, undefined, false);
    const relay = res.add(await startRelay({ tls: null, target: h.gateway.url.replace(/^https/, 'wss'), ca: ca.caPem() }));
    const { last } = rawProxy(h, (c) => {
      c.url = `${relay.url}/tunnel/corp`;
      c.caFile = null;
    });
    const waiting = await waitFor(() => {
      const s = last();
      return s?.state === 'waiting' ? s : null;
    }, { message: 'the proxy to refuse' });
    expect(waiting).toMatchObject({ code: 'TUNNEL_CHANNEL_BINDING_UNAVAILABLE', permanent: true });
    expect(waiting.error).toMatch(/not TLS/);
  });

  it('MCP_TUNNEL_REQUIRE_CHANNEL_BINDING refuses a gateway announcing "none" over wss', async () => {
    const relayCert = ca.issue('cb-require-relay');
    const h = await tlsHarness(null, undefined, false);
    const relay = res.add(await startRelay({ tls: relayCert, target: h.gateway.url.replace(/^http/, 'ws'), ca: ca.caPem() }));
    const { last } = rawProxy(h, (c) => {
      c.url = `${relay.url}/tunnel/corp`;
      c.requireChannelBinding = true;
    });
    const waiting = await waitFor(() => {
      const s = last();
      return s?.state === 'waiting' ? s : null;
    }, { message: 'the proxy to refuse' });
    expect(waiting).toMatchObject({ code: 'TUNNEL_CHANNEL_BINDING_REQUIRED', permanent: true });
    expect(h.gateway.registry.all()).toHaveLength(0);
  });
});
