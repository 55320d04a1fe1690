import { LegacyEndpoints } from '../../../src/gateway/legacy-endpoints';
import { SessionBinding } from '../../../src/gateway/session-binding';
import { TunnelRegistry, type TunnelConnection } from '../../../src/gateway/tunnels';
import type { Multiplexer } from '../../../src/mux';

const at = (owner: string, connId = 'c1', server = 'notes'): { server: string; tunnelId: string; connId: string; owner: string } => ({ server, tunnelId: 't', connId, owner });

function conn(id: string): TunnelConnection {
  const mux = { canOpenStream: true, activeStreams: 0 } as unknown as Multiplexer;
  return { id, tunnelId: 't', mux, proxyName: 'p', remoteAddress: '127.0.0.1', connectedAt: 0 };
}

describe('SessionBinding', () => {
  it('keeps the first owner, forgets on end, and is bounded', () => {
    const s = new SessionBinding({ maxOwners: 3 });
    s.bind(at('alice'), 's1');
    s.bind(at('bob'), 's1');
    expect(s.ownerOf('notes', 's1')).toBe('alice');
    expect(s.ownerOf('other', 's1')).toBeNull();
    s.end('notes', 't', 's1');
    expect(s.ownerOf('notes', 's1')).toBeNull();
    for (let i = 0; i < 10; i++) s.bind(at('alice'), `x${i}`);
    expect(s.size).toBe(3);
    expect(s.ownerOf('notes', 'x9')).toBe('alice');
  });

  it('binds owner and connection together, and a DELETE (end) forgets both', () => {
    const s = new SessionBinding();
    s.bind(at('alice', 'c1'), 'S');
    expect([s.ownerOf('notes', 'S'), s.connectionOf('t', 'S')]).toEqual(['alice', 'c1']);
    // A later response on another connection moves the session; the creator stays its owner.
    s.bind(at('bob', 'c2'), 'S');
    expect([s.ownerOf('notes', 'S'), s.connectionOf('t', 'S')]).toEqual(['alice', 'c2']);
    s.end('notes', 't', 'S');
    expect([s.ownerOf('notes', 'S'), s.connectionOf('t', 'S')]).toEqual([null, undefined]);
  });

  it('a legacy announcement registers the endpoint and its connection; removing it undoes both', () => {
    const s = new SessionBinding({ endpoints: new LegacyEndpoints(1) });
    const remove = s.announce(at('alice', 'c1'), { rest: '/messages', search: '?sessionId=L1', upstream: 'http://h/messages?sessionId=L1', sessionId: 'L1' });
    expect(remove).not.toBeNull();
    expect(s.endpoint('notes', '/messages', '?sessionId=L1')).toMatchObject({ owner: 'alice', connId: 'c1', sessionId: 'L1' });
    expect(s.connectionOf('t', 'L1')).toBe('c1');
    // Full (one per server here): refused, and nothing is bound for it.
    expect(s.announce(at('bob', 'c2'), { rest: '/messages', search: '?sessionId=L2', upstream: 'http://h/messages?sessionId=L2', sessionId: 'L2' })).toBeNull();
    expect(s.connectionOf('t', 'L2')).toBeUndefined();
    remove!();
    expect(s.endpoint('notes', '/messages', '?sessionId=L1')).toBeNull();
    expect(s.connectionOf('t', 'L1')).toBeUndefined();
  });

  it('the registry routes a session to its connection and forgets the binding when the connection goes', () => {
    const registry = new TunnelRegistry();
    const [c1, c2] = [conn('c1'), conn('c2')];
    registry.add(c1);
    registry.add(c2);
    registry.sessions.bind(at('alice', 'c2'), 'S');
    expect(registry.pick('t', 'S')).toBe(c2);
    registry.remove(c2);
    expect(registry.sessions.connectionOf('t', 'S')).toBeUndefined();
    expect(registry.sessions.ownerOf('notes', 'S')).toBe('alice');
    expect(registry.pick('t', 'S')).toBe(c1);
    registry.close();
  });
});
