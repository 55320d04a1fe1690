/**
 * The egress allowlist enforced inside undici's connect, against real loopback servers: 127.0.0.1
 * plays the allowed internal server, 127.0.0.2 a forbidden one on the same port. Host names resolve
 * through an injected resolver (a DNS server the test controls), so a rebinding answer can be played.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type EgressResolver, type UpstreamDispatcher, type UpstreamError } from '../../../src/dispatch';
import { readAll, upstreamConfig } from './helpers';

interface Upstream {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function listenOn(host: string, port: number, opts: { closeConnections?: boolean } = {}): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server = http.createServer((_req, res) => {
    if (opts.closeConnections) res.setHeader('connection', 'close');
    res.end(`hello from ${host}`);
  });
  server.on('connection', (s: Socket) => {
    state.connections++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const v4 = (address: string): LookupAddress => ({ address, family: 4 });

let allowed: Upstream;
let forbidden: Upstream;
let dispatcher: UpstreamDispatcher | undefined;
let lookups: string[];

/** A resolver with a fixed table; `answers` may be a function of the call number (rebinding). */
function resolver(table: Record<string, LookupAddress[] | ((n: number) => LookupAddress[])>): EgressResolver {
  let n = 0;
  return (hostname, _opts, cb) => {
    lookups.push(hostname);
    const entry = table[hostname];
    const answer = typeof entry === 'function' ? entry(++n) : entry;
    if (!answer) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      setImmediate(() => cb(err, []));
      return;
    }
    setImmediate(() => cb(null, answer));
  };
}

function make(allow: string[], res?: EgressResolver): UpstreamDispatcher {
  dispatcher = createUpstreamDispatcher(upstreamConfig({ allow }), silentLogger(), res ? { resolver: res } : {});
  return dispatcher;
}

async function get(d: UpstreamDispatcher, url: string): Promise<{ status: number; body: string } | UpstreamError> {
  try {
    const res = await d.request({ rid: 'r', server: 's', url, method: 'GET', headers: [], body: null, signal: new AbortController().signal });
    return { status: res.status, body: (await readAll(res.body)).toString('utf8') };
  } catch (err) {
    return err as UpstreamError;
  }
}

beforeEach(async () => {
  lookups = [];
  allowed = await listenOn('127.0.0.1', 0, { closeConnections: true });
  forbidden = await listenOn('127.0.0.2', allowed.port, { closeConnections: true });
});

afterEach(async () => {
  await dispatcher?.close();
  dispatcher = undefined;
  await allowed.close();
  await forbidden.close();
});

describe('dispatch: egress allowlist', () => {
  it('off by default: any target is called', async () => {
    const d = make([]);
    expect(await get(d, `http://127.0.0.2:${allowed.port}/`)).toEqual({ status: 200, body: 'hello from 127.0.0.2' });
  });

  it('CIDR rule: an allowed IP literal is called, another is refused before connecting', async () => {
    const d = make(['127.0.0.1/32']);
    expect(await get(d, `http://127.0.0.1:${allowed.port}/`)).toMatchObject({ status: 200 });
    const denied = await get(d, `http://127.0.0.2:${allowed.port}/`);
    expect(denied).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN', egress: `denied: no rule matches 127.0.0.2:${allowed.port}` });
    expect(forbidden.connections).toBe(0);
  });

  it('host-name rule: the name is allowed wherever it resolves; other names are not', async () => {
    const d = make(['mcp.internal.test'], resolver({ 'mcp.internal.test': [v4('127.0.0.2')], 'other.internal.test': [v4('127.0.0.1')] }));
    expect(await get(d, `http://mcp.internal.test:${allowed.port}/`)).toEqual({ status: 200, body: 'hello from 127.0.0.2' });
    const denied = await get(d, `http://other.internal.test:${allowed.port}/`);
    expect(denied).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN', egress: `denied: no rule matches other.internal.test (127.0.0.1):${allowed.port}` });
    expect(allowed.connections).toBe(0);
  });

  it('wildcard rule: names below the domain only', async () => {
    const d = make(['*.corp.test'], resolver({ 'a.corp.test': [v4('127.0.0.1')], 'corp.test': [v4('127.0.0.1')] }));
    expect(await get(d, `http://a.corp.test:${allowed.port}/`)).toMatchObject({ status: 200 });
    expect(await get(d, `http://corp.test:${allowed.port}/`)).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN' });
  });

  it('port rules: the same address on another port is refused', async () => {
    const other = await listenOn('127.0.0.1', 0);
    try {
      const d = make([`127.0.0.1/32:${allowed.port}`, `mcp.test:${allowed.port}`], resolver({ 'mcp.test': [v4('127.0.0.1')] }));
      expect(await get(d, `http://127.0.0.1:${allowed.port}/`)).toMatchObject({ status: 200 });
      expect(await get(d, `http://mcp.test:${allowed.port}/`)).toMatchObject({ status: 200 });
      expect(await get(d, `http://127.0.0.1:${other.port}/`)).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN', egress: `denied: no rule matches 127.0.0.1:${other.port}` });
      expect(await get(d, `http://mcp.test:${other.port}/`)).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN' });
      expect(other.connections).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('DNS rebinding: the decision is made on the address actually connected to, per connection', async () => {
    // First answer: the allowed address. Every later answer: the forbidden one (a rebinding DNS server).
    const d = make(['127.0.0.1/32'], resolver({ 'rebind.test': (n) => [v4(n === 1 ? '127.0.0.1' : '127.0.0.2')] }));
    expect(await get(d, `http://rebind.test:${allowed.port}/`)).toEqual({ status: 200, body: 'hello from 127.0.0.1' });
    // The upstream closed the connection, so the next request connects (and resolves) again.
    const second = await get(d, `http://rebind.test:${allowed.port}/`);
    expect(second).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN', egress: `denied: no rule matches rebind.test (127.0.0.2):${allowed.port}` });
    expect(forbidden.connections).toBe(0);
    // Exactly one lookup per connection: there is no separate "check" lookup a rebinding server could answer differently.
    expect(lookups).toEqual(['rebind.test', 'rebind.test']);
  });

  it('an answer mixing allowed and forbidden addresses connects only to the allowed ones', async () => {
    const d = make(['127.0.0.1/32'], resolver({ 'mixed.test': [v4('127.0.0.2'), v4('127.0.0.1')] }));
    expect(await get(d, `http://mixed.test:${allowed.port}/`)).toEqual({ status: 200, body: 'hello from 127.0.0.1' });
    expect(forbidden.connections).toBe(0);
  });

  it('real DNS: localhost with loopback CIDR rules', async () => {
    const d = make(['127.0.0.1/32', '::1/128']);
    expect(await get(d, `http://localhost:${allowed.port}/`)).toEqual({ status: 200, body: 'hello from 127.0.0.1' });
    await d.close();
    const denied = make(['10.0.0.0/8']);
    expect(await get(denied, `http://localhost:${allowed.port}/`)).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN' });
  });
});
