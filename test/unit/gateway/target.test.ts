import type { IncomingMessage } from 'node:http';
import pino from 'pino';
import type { GatewayAuditRecord, RequestAudit } from '../../../src/audit';
import { GatewayError } from '../../../src/gateway/errors';
import { SessionBinding } from '../../../src/gateway/session-binding';
import { resolveTarget, type TargetContext } from '../../../src/gateway/target';

const silent = pino({ level: 'silent' });

function ctx(sessions: SessionBinding, target: string, opts: { method?: string; subject?: string; headers?: string[] } = {}): TargetContext & { annotated: unknown[] } {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const rest = path.slice('/mcp/s'.length);
  const annotated: unknown[] = [];
  const req = { method: opts.method ?? 'POST', rawHeaders: opts.headers ?? [] } as unknown as IncomingMessage;
  const audit = { annotate: (x: unknown) => annotated.push(x) } as unknown as RequestAudit<GatewayAuditRecord>;
  return { req, route: { server: 's', rest, search: q < 0 ? '' : target.slice(q) }, serverUrl: 'http://h/sse?tenant=a', subject: opts.subject ?? 'A', sessions, audit, log: () => silent, annotated };
}

function announce(sessions: SessionBinding, owner = 'A'): void {
  sessions.announce({ server: 's', tunnelId: 't', connId: 'c', owner }, { rest: '/messages', search: '?sessionId=L1', upstream: 'http://h/messages?sessionId=L1', sessionId: 'L1' });
}

const codeOf = (r: unknown): string | null => (r instanceof GatewayError ? r.code : null);

describe('resolveTarget', () => {
  it('routes the base path to the configured URL and keys the session on Mcp-Session-Id', () => {
    const s = new SessionBinding();
    expect(resolveTarget(ctx(s, '/mcp/s?x=1', { headers: ['Mcp-Session-Id', 'S1'] }))).toEqual({ url: 'http://h/sse?tenant=a&x=1', sessionKey: 'S1', legacy: false });
    expect(codeOf(resolveTarget(ctx(s, '/mcp/s?tenant=b')))).toBe('TUNNEL_QUERY_CONFLICT');
  });

  it('routes an announced legacy endpoint, exactly and only by POST, to the announced upstream URL', () => {
    const s = new SessionBinding();
    announce(s);
    expect(resolveTarget(ctx(s, '/mcp/s/messages?sessionId=L1'))).toEqual({ url: 'http://h/messages?sessionId=L1', sessionKey: 'L1', legacy: true });
    expect(codeOf(resolveTarget(ctx(s, '/mcp/s/messages?sessionId=L1', { method: 'GET' })))).toBe('TUNNEL_SESSION_NOT_FOUND');
    expect(codeOf(resolveTarget(ctx(s, '/mcp/s/messages')))).toBe('TUNNEL_NOT_FOUND');
    expect(codeOf(resolveTarget(ctx(s, '/mcp/s/other?x=1')))).toBe('TUNNEL_NOT_FOUND');
    expect(codeOf(resolveTarget(ctx(s, '/mcp/s?session_id=L1')))).toBe('TUNNEL_SESSION_NOT_FOUND');
  });

  it('checks both bindings when a legacy endpoint request carries an Mcp-Session-Id', () => {
    const s = new SessionBinding();
    announce(s, 'A');
    s.bind({ server: 's', tunnelId: 't', connId: 'c', owner: 'B' }, 'B-session');
    const own = ctx(s, '/mcp/s/messages?sessionId=L1', { headers: ['Mcp-Session-Id', 'B-session'] });
    expect(codeOf(resolveTarget(own))).toBe('TUNNEL_SESSION_NOT_FOUND');
    expect(own.annotated).toEqual([{ policy: { decision: 'deny', rule: 'session-binding' } }]);
    expect(codeOf(resolveTarget(ctx(s, '/mcp/s/messages?sessionId=L1', { subject: 'B', headers: ['Mcp-Session-Id', 'B-session'] })))).toBe('TUNNEL_SESSION_NOT_FOUND');
    expect(resolveTarget(ctx(s, '/mcp/s/messages?sessionId=L1', { headers: ['Mcp-Session-Id', 'unknown'] }))).toMatchObject({ legacy: true, sessionKey: 'L1' });
  });

  it('refuses more than one Mcp-Session-Id header line', () => {
    const r = resolveTarget(ctx(new SessionBinding(), '/mcp/s', { headers: ['mcp-session-id', 'a', 'Mcp-Session-Id', 'b'] }));
    expect(r).toBeInstanceOf(GatewayError);
    expect(r).toMatchObject({ code: 'TUNNEL_DUPLICATE_SESSION_ID', status: 400 });
  });
});
