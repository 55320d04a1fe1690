import { Subject, of, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { SecretRotation } from '../../../src/gateway/rotation';
import type { TunnelConnection } from '../../../src/gateway/tunnels';
import { silentLogger } from '../../../src/log';
import type { Multiplexer } from '../../../src/mux';
import { ProxyReauth } from '../../../src/session';

const OLD = 'o'.repeat(40);
const NEW = 'n'.repeat(40);

/** Two control channels linked through the scheduler (delivery a virtual tick later), plus what the gateway did to its connection. */
function linkedChannels(scheduler: SchedulerLike) {
  const toGateway = new Subject<Buffer>();
  const toProxy = new Subject<Buffer>();
  const calls: Array<{ at: number; what: string }> = [];
  const deliver = (to: Subject<Buffer>, msg: unknown) => scheduler.schedule(() => to.next(Buffer.from(JSON.stringify(msg))));
  const gatewayMux = {
    control$: toGateway.asObservable(),
    sendControl: (msg: unknown) => deliver(toProxy, msg),
    goAway: (code: number) => calls.push({ at: scheduler.now(), what: `goaway ${code}` }),
    close: (code: number) => calls.push({ at: scheduler.now(), what: `close ${code}` }),
    idle$: of(undefined),
    isClosed: false,
    activeStreams: 0,
  };
  const proxyChannel = { control$: toProxy.asObservable(), sendControl: (msg: unknown) => deliver(toGateway, msg), close: () => undefined };
  return { gatewayMux, proxyChannel, calls };
}

/** Rotates OLD → NEW at t=1000 with a 5 s grace; the proxy's secret file follows (or not). */
function rotate(proxyFollows: boolean, failures: string[] = []): Array<{ at: number; what: string }> {
  const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
  let calls: Array<{ at: number; what: string }> = [];
  scheduler.run(() => {
    let gatewaySecrets = [OLD];
    let proxySecret = OLD;
    const link = linkedChannels(scheduler);
    calls = link.calls;
    const rotation = new SecretRotation({
      secretsOf: () => gatewaySecrets,
      graceMs: () => 5000,
      challengeDeadlineMs: () => 1000,
      maxControlBytes: () => 65536,
      scheduler,
      onReauthFailed: (code) => failures.push(`${scheduler.now()} ${code}`),
    });
    const conn = { id: 'c1', tunnelId: 'corp', mux: link.gatewayMux as unknown as Multiplexer } as TunnelConnection; // a fake: rotation uses only the members above
    const untrack = rotation.track(conn, { version: 1, secretIndex: 0, channelBinding: '' }, silentLogger());
    const proxy = new ProxyReauth({ channel: link.proxyChannel, version: 1, tunnelId: 'corp', channelBinding: '', secret: () => proxySecret, initialSecret: OLD, maxControlBytes: 65536, logger: silentLogger(), scheduler });
    scheduler.schedule(() => {
      gatewaySecrets = [NEW];
      if (proxyFollows) proxySecret = NEW;
      rotation.recheck();
    }, 1000);
    scheduler.schedule(() => {
      untrack();
      proxy.dispose();
    }, 60_000);
  });
  return calls;
}

describe('secret rotation with in-band re-authentication (virtual time)', () => {
  it('a proxy that re-authenticates with the new secret within the grace keeps its connection', () => {
    const failures: string[] = [];
    expect(rotate(true, failures)).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('a proof with the revoked secret is a failed authentication (counted in mcp_tunnel_auth_failures_total)', () => {
    const failures: string[] = [];
    rotate(false, failures);
    // The challenge goes out at t=1000; the proxy's proof with OLD arrives on the next virtual ticks.
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.every((f) => f.endsWith(' TUNNEL_REAUTH_FAILED'))).toBe(true);
    expect(Number(failures[0]!.split(' ')[0])).toBeGreaterThanOrEqual(1000);
  });

  it('a proxy still on the revoked secret is drained when the grace is over, then closed 4401 after the linger', () => {
    expect(rotate(false)).toEqual([
      { at: 6000, what: 'goaway 0' },
      { at: 6050, what: 'close 4401' },
    ]);
  });
});
