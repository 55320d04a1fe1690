import { CONFIG_KEY, REPLICAS_KEY, attemptsKey, rateKey, replicaKey, sessionKey, slotKey } from '../../../src/cluster/keys';

/** The part of a key Redis Cluster hashes: the first non-empty `{…}`, else the whole key (its spec). */
function hashed(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}

describe('cluster keys under Redis Cluster', () => {
  it('puts the keys touched together (presence: one MULTI, one MGET) in one hash slot', () => {
    const group = [REPLICAS_KEY, replicaKey('5f0c2a9e41d7'), replicaKey('a83b1c0d22e4')];
    expect(new Set(group.map(hashed)).size).toBe(1);
  });

  it('leaves the single-key ones untagged, so sessions and limits spread over the slots', () => {
    for (const k of [sessionKey('corp', 's1'), sessionKey('corp', 's2'), rateKey('rule\u0000alice'), slotKey('rule\u0000alice'), attemptsKey('corp\u000010.0.0.9'), CONFIG_KEY]) expect(hashed(k)).toBe(k);
    expect(hashed(sessionKey('corp', 's1'))).not.toBe(hashed(sessionKey('corp', 's2')));
  });
});
