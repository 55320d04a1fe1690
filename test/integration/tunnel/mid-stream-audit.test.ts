/**
 * The gateway's audit record of a response that fails mid-stream: the bytes the client got are
 * counted once (the stream error and the client connection's close both end the exchange; only the
 * first may count), and they agree with what the proxy sent.
 */
import http from 'node:http';
import { startStreamableUpstream, type RawRouteHandler } from '../../fixtures/mcp-upstream';
import { Resources, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

type Line = Record<string, unknown>;
const SENT = 64 * 1024;

/** Sends a 200 head and 64 KiB, then kills its socket. */
const dieMidBody: RawRouteHandler = ({ res }) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  res.write(Buffer.alloc(SENT, 0x61), () => res.socket?.destroy());
};

function get(url: URL, headers: Record<string, string>): Promise<{ status: number; bytes: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }));
    });
    req.on('error', reject);
  });
}

describe('audit of a response that fails mid-stream', () => {
  const res = new Resources();
  let h: Harness;

  beforeEach(async () => {
    const upstream = res.add(await startStreamableUpstream({ rawRoutes: { '/raw/die': dieMidBody } }));
    h = res.add(await startHarness({ servers: [{ name: 'dies', url: `${upstream.origin}/raw/die` }] }));
  });
  afterEach(() => res.closeAll());

  it('a response cut mid-stream is recorded with the bytes counted once, as the proxy counts them', async () => {
    const r = await get(h.mcpUrl('dies'), { authorization: `Bearer ${h.apiKey}` });
    expect({ status: r.status, complete: r.complete }).toEqual({ status: 200, complete: false });
    const gateway = await waitFor(() => h.gatewayAudit.lines.find((l: Line) => l.side === 'gateway'), { message: 'the gateway record' });
    const proxy = await waitFor(() => h.proxyAudit.lines.find((l: Line) => l.side === 'proxy'), { message: 'the proxy record' });
    expect(gateway).toMatchObject({ status: 200, outcome: 'error', errorCode: 'TUNNEL_UPSTREAM_RESET' });
    expect(gateway.bytesOut).toBe(proxy.bytesOut);
    expect(gateway.bytesOut).toBeLessThanOrEqual(SENT);
    expect(r.bytes).toBeLessThanOrEqual(gateway.bytesOut as number);
  });
});
