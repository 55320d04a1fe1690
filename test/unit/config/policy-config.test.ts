import { loadGatewayConfig } from '../../../src/config';
import { configError } from './helpers';

const base = {
  tunnels: [{ id: 'corp', secrets: ['tunnel-secret-0123456789abcdefghijkl'] }],
  servers: [{ name: 'notes', tunnel: 'corp', url: 'http://10.0.0.5:9000/mcp' }],
};

function load(rules: unknown, env: NodeJS.ProcessEnv = {}): ReturnType<typeof loadGatewayConfig> {
  return loadGatewayConfig({ env, overrides: rules === undefined ? base : { ...base, policy: { rules } } });
}

describe('gateway config: policy', () => {
  it('defaults to no rules and a 64 KiB inspection bound', () => {
    expect(load(undefined).policy).toEqual({ rules: [], inspectLimitBytes: 65536 });
  });

  it('resolves rules with defaults (name, servers "*", no parts)', () => {
    const c = load([
      { match: { client: 'alice' }, tools: { deny: ['drop*'] } },
      { name: 'ops', match: { scope: 'mcp:ops' }, servers: ['notes'], rateLimit: { ratePerSec: 2.5, burst: 10 }, maxConcurrent: 4 },
    ]);
    expect(c.policy!.rules).toEqual([
      { name: 'rules[0]', match: { client: 'alice', scope: null }, servers: ['*'], tools: { allow: null, deny: ['drop*'] }, rateLimit: null, maxConcurrent: null },
      { name: 'ops', match: { client: null, scope: 'mcp:ops' }, servers: ['notes'], tools: null, rateLimit: { ratePerSec: 2.5, burst: 10 }, maxConcurrent: 4 },
    ]);
  });

  it('reads rules from MCP_TUNNEL_POLICY_RULES and the bound from MCP_TUNNEL_POLICY_INSPECT_LIMIT_BYTES', () => {
    const c = loadGatewayConfig({
      env: { MCP_TUNNEL_POLICY_RULES: '[{"match":{"client":"*"},"maxConcurrent":2}]', MCP_TUNNEL_POLICY_INSPECT_LIMIT_BYTES: '4096' },
      overrides: base,
    });
    expect(c.policy!.rules[0]).toMatchObject({ match: { client: '*' }, maxConcurrent: 2 });
    expect(c.policy!.inspectLimitBytes).toBe(4096);
  });

  it.each([
    [[{}], 'policy.rules[0].match', /must be an object/],
    [[{ match: {} }], 'policy.rules[0].match', /client or a scope/],
    [[{ match: { client: 'a' }, tools: {} }], 'policy.rules[0].tools', /allow.*deny/],
    [[{ match: { client: 'a' }, tools: { allow: [''] } }], 'policy.rules[0].tools.allow[0]', /non-empty/],
    [[{ match: { client: 'a' }, rateLimit: { ratePerSec: 0, burst: 1 } }], 'policy.rules[0].rateLimit.ratePerSec', /> 0/],
    [[{ match: { client: 'a' }, rateLimit: { ratePerSec: 1, burst: 0.5 } }], 'policy.rules[0].rateLimit.burst', /integer/],
    [[{ match: { client: 'a' }, maxConcurrent: 0 }], 'policy.rules[0].maxConcurrent', /integer/],
    [[{ match: { client: 'a' }, servers: ['nope'] }], 'policy.rules[0].servers[0]', /no declared server/],
    [[{ match: { client: 'a' }, typo: 1 }], 'policy.rules[0].typo', /not a known option/],
    [[{ name: 'x', match: { client: 'a' } }, { name: 'x', match: { client: 'b' } }], 'policy.rules[1].name', /duplicate/],
  ])('refuses %j at %s', (rules, key, problem) => {
    const err = configError(() => load(rules));
    expect(err.key).toBe(key);
    expect(err.problem).toMatch(problem);
  });

  it('reports a policy env var that is not JSON', () => {
    const err = configError(() => loadGatewayConfig({ env: { MCP_TUNNEL_POLICY_RULES: '[{' }, overrides: base }));
    expect(err.key).toBe('policy.rules');
  });
});
