import { randomUUID } from 'node:crypto';
import { firstValueFrom, map, switchMap, take, tap } from '../rx';
import type { ProxyConfig } from '../config';
import { dial, trustedCas } from '../connection';
import type { UpstreamDispatcher } from '../dispatch';
import { CloseCode, FRAME_HEADER_BYTES, receiveSettings } from '../protocol';
import { authenticate, tlsExporterBinding } from '../session';
import { SOFTWARE } from '../version';
import { codeOf, hintFor, messageOf, upstreamHint } from './hints';
import type { GatewayTarget } from './network-checks';
import { fail, pass, skip, type StepResult } from './steps';

/**
 * Steps `websocket` and `handshake`: the real dial (TLS, pins, HTTP upgrade) and the real
 * authentication of the proxy's session module, then a clean close ("going away": the gateway logs
 * one connected-and-closed proxy). A request the gateway sends to that connection in the few
 * milliseconds it is registered fails over to the proxy's own connections only if it has others:
 * run `doctor` beside a live proxy knowing that.
 */
export async function checkTunnel(config: ProxyConfig, t: GatewayTarget, timeoutMs: number): Promise<StepResult[]> {
  const local = receiveSettings(config.flow, config.limits);
  let upgraded = false;
  const session$ = dial(
    {
      url: config.url,
      caFile: config.caFile,
      pins: config.pins,
      maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES,
      openTimeoutMs: timeoutMs,
    },
    trustedCas(config.caFile),
  ).pipe(
    tap(() => (upgraded = true)),
    switchMap((socket) =>
      authenticate(socket.transport, {
        tunnelId: config.tunnelId,
        secret: () => config.secret,
        local,
        timeoutMs,
        tlsExporter: socket.tlsSocket !== null ? tlsExporterBinding(socket.tlsSocket) : null,
        requireChannelBinding: config.requireChannelBinding,
        proxy: { id: randomUUID(), name: `${config.name} (doctor)`, software: SOFTWARE },
      }).pipe(
        tap(() => socket.transport.close(CloseCode.GOING_AWAY, 'mcp-tunnel doctor: check done')),
        map((session) => ({ session, binding: socket.tlsSocket !== null })),
      ),
    ),
    take(1),
  );
  try {
    const { session, binding } = await firstValueFrom(session$);
    return [
      pass('websocket', `upgraded at ${t.url.origin}${t.url.pathname}`),
      pass('handshake', `authenticated to tunnel "${config.tunnelId}" (protocol ${session.version}, connection ${session.connectionId}${binding ? ', TLS channel binding' : ''})`),
    ];
  } catch (err) {
    const line = `${codeOf(err) || 'error'}: ${messageOf(err)}`;
    if (!upgraded) return [fail('websocket', line, hintFor(err, t)), skip('handshake', 'websocket')];
    return [pass('websocket', `upgraded at ${t.url.origin}${t.url.pathname}`), fail('handshake', line, hintFor(err, t))];
  }
}

/** An upstream to check: a server name (selects per-server TLS settings) and its URL. */
export interface UpstreamTarget {
  name: string;
  url: string;
}

/**
 * Step `upstream NAME`: one GET (`Accept: text/event-stream`) through the proxy's own dispatcher, so
 * egress rules and upstream TLS apply exactly as for real requests. Any answer below 500 means the
 * server is reachable (a Streamable HTTP server answers a GET without a session with 400 or 405);
 * the body is not read.
 */
export async function checkUpstream(dispatcher: UpstreamDispatcher, u: UpstreamTarget, timeoutMs: number): Promise<StepResult> {
  const step = `upstream ${u.name}`;
  const started = Date.now();
  try {
    const res = await dispatcher.request({
      rid: `doctor-${randomUUID()}`,
      server: u.name,
      url: u.url,
      method: 'GET',
      headers: [['accept', 'text/event-stream']],
      body: null,
      signal: AbortSignal.timeout(timeoutMs),
    });
    res.body.destroy();
    const took = `HTTP ${res.status} in ${Date.now() - started} ms`;
    if (res.status >= 500) return fail(step, `${u.url}: ${took}`, 'the server answered with an error: check its own logs');
    return pass(step, `${u.url}: ${took}`);
  } catch (err) {
    return fail(step, `${u.url}: ${codeOf(err) || 'error'}: ${messageOf(err)}`, upstreamHint(err, u.url));
  }
}
