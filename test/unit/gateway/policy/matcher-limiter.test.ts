import { ClientLimiter, CompiledPolicy, GlobList, TokenBucket, compileGlob } from '../../../../src/gateway/policy';
import type { PolicyRuleConfig } from '../../../../src/config/types';

function rule(p: Partial<PolicyRuleConfig> & { name: string }): PolicyRuleConfig {
  return { match: { client: 'alice', scope: null }, servers: ['*'], tools: null, rateLimit: null, maxConcurrent: null, ...p };
}

describe('compileGlob', () => {
  it('matches * as any run of characters and everything else literally', () => {
    expect(compileGlob('echo')('echo')).toBe(true);
    expect(compileGlob('echo')('echo2')).toBe(false);
    expect(compileGlob('db.*')('db.query')).toBe(true);
    expect(compileGlob('db.*')('dbxquery')).toBe(false);
    expect(compileGlob('*_admin')('drop_admin')).toBe(true);
    expect(compileGlob('a*b*c')('a--b--c')).toBe(true);
    expect(compileGlob('a*b*c')('a--c--b')).toBe(false);
    expect(compileGlob('*')('')).toBe(true);
    expect(compileGlob('[x]?(y)')('[x]?(y)')).toBe(true);
    expect(compileGlob('Echo')('echo')).toBe(false);
  });

  it('GlobList reports the first pattern that matched', () => {
    expect(new GlobList(['a*', '*b']).firstMatch('ab')).toBe('a*');
    expect(new GlobList(['a*']).firstMatch('b')).toBeNull();
  });
});

describe('CompiledPolicy', () => {
  const policy = new CompiledPolicy({
    inspectLimitBytes: 1024,
    rules: [
      rule({ name: 'notes-tools', servers: ['notes'], tools: { allow: ['read_*', 'search'], deny: ['read_secret*'] } }),
      rule({ name: 'alice-all', tools: { allow: null, deny: ['drop*'] }, rateLimit: { ratePerSec: 1, burst: 2 } }),
      rule({ name: 'ops', match: { client: null, scope: 'mcp:ops' }, maxConcurrent: 3 }),
      rule({ name: 'everyone', match: { client: '*', scope: null }, maxConcurrent: 10 }),
    ],
  });

  it('takes each concern from the first matching rule that configures it', () => {
    const a = policy.resolve({ name: 'alice' }, 'notes');
    expect(a.tools?.name).toBe('notes-tools');
    expect(a.rate).toMatchObject({ rule: 'alice-all', ratePerSec: 1, burst: 2 });
    expect(a.concurrency).toMatchObject({ rule: 'everyone', max: 10 });
    expect(policy.resolve({ name: 'alice' }, 'other').tools?.name).toBe('alice-all');
    expect(policy.resolve({ name: 'bob', scopes: ['mcp:ops'] }, 'notes')).toMatchObject({ tools: null, rate: null, concurrency: { rule: 'ops', max: 3 } });
    expect(policy.resolve({ name: 'carol' }, 'notes')).toMatchObject({ tools: null, concurrency: { rule: 'everyone' } });
  });

  it('denies on a deny pattern, and anything off the allow list', () => {
    const tools = policy.resolve({ name: 'alice' }, 'notes').tools!;
    expect(tools.check('read_file')).toEqual({ allowed: true, rule: 'notes-tools' });
    expect(tools.check('read_secret_key')).toEqual({ allowed: false, rule: 'notes-tools: deny "read_secret*"' });
    expect(tools.check('write_file')).toEqual({ allowed: false, rule: 'notes-tools: not in allow list' });
  });

  it('is empty without rules', () => {
    expect(new CompiledPolicy().resolve({ name: 'x' }, 'y')).toEqual({ tools: null, rate: null, concurrency: null });
  });
});

describe('TokenBucket / ClientLimiter', () => {
  it('grants a burst, then tells how long until the next token', () => {
    const b = new TokenBucket(2, 3, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    expect(b.take(0)).toBe(500);
    expect(b.take(250)).toBe(250);
    expect(b.take(500)).toBe(0);
  });

  it('keeps state across re-configuration (a reload), capped at the new burst', () => {
    let now = 0;
    const l = new ClientLimiter(() => now);
    expect(l.takeToken('k', 1, 5)).toBe(0);
    expect(l.takeToken('k', 1, 2)).toBe(0); // 4 left, capped to 2, one taken
    expect(l.takeToken('k', 1, 2)).toBe(0);
    expect(l.takeToken('k', 1, 2)).toBe(1000);
    now = 1000;
    expect(l.takeToken('k', 1, 2)).toBe(0);
  });

  it('bounds its entries', () => {
    const l = new ClientLimiter(() => 0, 10);
    for (let i = 0; i < 100; i++) l.takeToken(`k${i}`, 1, 1);
    expect(l.size).toBe(10);
  });

  it('counts concurrency slots and releases each once', () => {
    const l = new ClientLimiter(() => 0);
    const a = l.acquire('k', 2)!;
    const b = l.acquire('k', 2)!;
    expect(l.acquire('k', 2)).toBeNull();
    a.release();
    a.release();
    const c = l.acquire('k', 2);
    expect(c).not.toBeNull();
    expect(l.acquire('k', 2)).toBeNull();
    b.release();
    c!.release();
    expect(l.size).toBe(0);
  });
});
