import type { IncomingMessage } from 'node:http';
import { AVOID_HEADER, TunnelSpread, avoidedReplicas, moveDuplicate } from '../../../src/cluster/spread';
import { ReplicaSpread } from '../../../src/proxy/replica-spread';

const req = (avoid?: string): IncomingMessage => ({ headers: avoid === undefined ? {} : { [AVOID_HEADER]: avoid } }) as unknown as IncomingMessage;

describe('spreading proxy connections across replicas', () => {
  it('redirects only a proxy that avoids this replica while another live one is not avoided', () => {
    const spread = new TunnelSpread('a', () => ['b', 'c']);
    expect(spread.redirect(req())).toBe(false);
    expect(spread.redirect(req('b'))).toBe(false);
    expect(spread.redirect(req('a'))).toBe(true);
    expect(spread.redirect(req('a, b, c'))).toBe(false); // no other choice: accept
    expect(new TunnelSpread('a', () => []).redirect(req('a'))).toBe(false);
  });

  it('reads at most 16 ids and ignores empty or oversized ones', () => {
    const many = Array.from({ length: 20 }, (_, i) => `r${i}`).join(',');
    expect(avoidedReplicas(many).size).toBe(16);
    expect([...avoidedReplicas(` a,,${'x'.repeat(65)}, b`)]).toEqual(['a', 'b']);
  });

  it('proxy: asks to avoid the other slots’ replicas, and stops after two refusals in a row', () => {
    const s = new ReplicaSpread();
    expect(s.headers(1)).toBeUndefined();
    const gone = s.connected(0, 'a');
    expect(s.headers(1)).toEqual({ [AVOID_HEADER]: 'a' });
    expect(s.headers(0)).toBeUndefined();
    s.failed(1, { status: 503 });
    expect(s.headers(1)).toBeDefined();
    s.failed(1, { status: 503 });
    expect(s.headers(1)).toBeUndefined();
    s.connected(1, 'b');
    gone();
    expect(s.headers(1)).toBeUndefined();
    expect(s.headers(0)).toEqual({ [AVOID_HEADER]: 'b' });
  });

  it('moves the newest duplicate of a proxy, once it is old enough, and only with another replica live', () => {
    const conn = (connectedAt: number, proxyName = 'p') => ({ tunnelId: 't', proxyName, connectedAt, mux: { canOpenStream: true, goAway: jest.fn() } });
    const old = conn(0);
    const young = conn(9_000);
    expect(moveDuplicate([old, young], 0, 10_000)).toBeNull();
    expect(moveDuplicate([old, young], 1, 10_000)).toBeNull(); // 1 s old: may be a replacement
    expect(moveDuplicate([old, young], 1, 12_000)).toBe(young);
    expect(young.mux.goAway).toHaveBeenCalledTimes(1);
    expect(moveDuplicate([conn(0, 'p'), conn(0, 'q')], 1, 12_000)).toBeNull();
  });
});
