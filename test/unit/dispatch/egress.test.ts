import { EgressRuleError, parseEgressRule, parseEgressRules } from '../../../src/config/egress-rules';
import { EgressPolicy } from '../../../src/dispatch/egress';

const allow = (rules: string[], host: string, address: string, port: number): boolean => EgressPolicy.fromRules(rules).decide(host, address, port).allowed;

describe('egress rules: parsing', () => {
  it.each([
    ['mcp.internal', { kind: 'host', name: 'mcp.internal', wildcard: false, port: null }],
    ['MCP.Internal.:9000', { kind: 'host', name: 'mcp.internal', wildcard: false, port: 9000 }],
    ['*.corp.example', { kind: 'host', name: '.corp.example', wildcard: true, port: null }],
    ['localhost:8080', { kind: 'host', name: 'localhost', port: 8080 }],
    ['10.0.0.0/8', { kind: 'cidr', port: null }],
    ['10.0.0.0/8:9000', { kind: 'cidr', port: 9000 }],
    ['127.0.0.1', { kind: 'cidr', port: null }],
    ['::1/128', { kind: 'cidr', port: null }],
    ['fd00::/8', { kind: 'cidr', port: null }],
    ['[::1]:9000', { kind: 'cidr', port: 9000 }],
    ['[fd00::/8]:443', { kind: 'cidr', port: 443 }],
  ])('%s', (rule, expected) => {
    expect(parseEgressRule(rule)).toMatchObject({ ...expected, text: rule });
  });

  it.each([
    ['', 'is empty'],
    ['10.0.0.0/33', 'has an invalid prefix length "/33" (0-32)'],
    ['::1/129', 'has an invalid prefix length "/129" (0-128)'],
    ['10.0.0/8', 'is not a valid IP address or CIDR block ("10.0.0")'],
    ['300.1.1.1', 'is not a valid IP address or CIDR block ("300.1.1.1")'],
    ['host:0', 'has a port out of range (0)'],
    ['host:http', 'has an invalid port "http"'],
    ['[::1', 'is not of the form [IPv6] or [IPv6]:port'],
    ['[mcp.internal]:80', 'must hold an IPv6 address or block inside the brackets'],
    ['a.*.example', 'may use "*" only as the whole first label ("*.example.com")'],
    ['*', 'may use "*" only as the whole first label ("*.example.com")'],
    ['bad_host!', 'is not a valid host name, wildcard, IP address or CIDR block'],
    ['-a.example', 'is not a valid host name, wildcard, IP address or CIDR block'],
  ])('refuses %p: %s', (rule, problem) => {
    let err: unknown;
    try {
      parseEgressRule(rule);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EgressRuleError);
    expect((err as EgressRuleError).problem).toBe(problem);
  });

  it('splits comma-separated entries and skips empty ones', () => {
    expect(parseEgressRules(['a.example, 10.0.0.0/8', '', ' [::1]:9 ,']).map((r) => r.text)).toEqual(['a.example', '10.0.0.0/8', '[::1]:9']);
  });
});

describe('egress rules: decisions', () => {
  it('no rules: everything allowed (policy off)', () => {
    const p = EgressPolicy.fromRules([]);
    expect(p.enabled).toBe(false);
    expect(p.decide('x.example', '8.8.8.8', 443).allowed).toBe(true);
  });

  it('exact host name, case-insensitive, any port unless the rule has one', () => {
    expect(allow(['mcp.internal'], 'MCP.internal', '10.9.9.9', 1)).toBe(true);
    expect(allow(['mcp.internal'], 'other.internal', '10.9.9.9', 1)).toBe(false);
    expect(allow(['mcp.internal:9000'], 'mcp.internal', '10.9.9.9', 9000)).toBe(true);
    expect(allow(['mcp.internal:9000'], 'mcp.internal', '10.9.9.9', 9001)).toBe(false);
  });

  it('wildcards match names below the domain, not the domain itself', () => {
    const rules = ['*.corp.example'];
    expect(allow(rules, 'a.corp.example', '10.0.0.1', 80)).toBe(true);
    expect(allow(rules, 'a.b.corp.example', '10.0.0.1', 80)).toBe(true);
    expect(allow(rules, 'corp.example', '10.0.0.1', 80)).toBe(false);
    expect(allow(rules, 'evilcorp.example', '10.0.0.1', 80)).toBe(false);
    expect(allow(rules, 'a.corp.example.evil', '10.0.0.1', 80)).toBe(false);
  });

  it('CIDR rules match the resolved address of any name, and IP literals', () => {
    expect(allow(['10.0.0.0/8'], 'anything.example', '10.1.2.3', 9000)).toBe(true);
    expect(allow(['10.0.0.0/8'], '10.1.2.3', '10.1.2.3', 9000)).toBe(true);
    expect(allow(['10.0.0.0/8'], 'anything.example', '11.1.2.3', 9000)).toBe(false);
    expect(allow(['127.0.0.1'], 'localhost', '127.0.0.1', 1)).toBe(true);
    expect(allow(['127.0.0.1'], 'localhost', '127.0.0.2', 1)).toBe(false);
    expect(allow(['10.0.0.0/8:9000'], 'x', '10.1.2.3', 9000)).toBe(true);
    expect(allow(['10.0.0.0/8:9000'], 'x', '10.1.2.3', 9001)).toBe(false);
  });

  it('IPv6 blocks, with and without a port; IPv4-mapped addresses are checked as IPv4', () => {
    expect(allow(['::1/128'], 'localhost', '::1', 5)).toBe(true);
    expect(allow(['[::1]:9000'], '::1', '::1', 9000)).toBe(true);
    expect(allow(['[::1]:9000'], '::1', '::1', 9001)).toBe(false);
    expect(allow(['fd00::/8'], 'x', 'fd12::1', 5)).toBe(true);
    expect(allow(['fd00::/8'], 'x', 'fe80::1', 5)).toBe(false);
    expect(allow(['10.0.0.0/8'], 'x', '::ffff:10.0.0.1', 5)).toBe(true);
    expect(allow(['10.0.0.0/8'], 'x', '::ffff:11.0.0.1', 5)).toBe(false);
  });

  it('a host-name rule never matches an IP literal URL', () => {
    expect(allow(['127.0.0.1.nip.example'], '127.0.0.1', '127.0.0.1', 80)).toBe(false);
  });

  it('names the rule and the target in the decision', () => {
    const p = EgressPolicy.fromRules(['mcp.internal', '10.0.0.0/8:9000']);
    expect(p.decide('db.internal', '10.1.2.3', 9000)).toEqual({ allowed: true, rule: '10.0.0.0/8:9000', decision: 'allowed: rule "10.0.0.0/8:9000" matches db.internal (10.1.2.3):9000' });
    expect(p.decide('10.1.2.3', '10.1.2.3', 22)).toEqual({ allowed: false, rule: null, decision: 'denied: no rule matches 10.1.2.3:22' });
    expect(p.decide('::1', '::1', 22).decision).toBe('denied: no rule matches [::1]:22');
  });
});
