import { allPassed, hintFor, renderSteps, upstreamHint } from '../../../src/doctor';

const ctx = { host: 'gw.example', port: 443, tunnelId: 'corp', caFile: null };
const err = (code: string, message = code): Error => Object.assign(new Error(message), { code });

describe('doctor hints', () => {
  it('words each cause the operator can fix', () => {
    expect(hintFor(err('ENOTFOUND'), ctx)).toMatch(/^DNS failure: "gw\.example" does not resolve/);
    expect(hintFor(err('EAI_AGAIN'), ctx)).toMatch(/^DNS failure: the resolver did not answer/);
    expect(hintFor(err('ECONNREFUSED'), ctx)).toMatch(/^connection refused: nothing listens on gw\.example:443/);
    expect(hintFor(err('EPROTO', 'ssl3_get_record:wrong version number'), ctx)).toMatch(/answered in plain HTTP, not TLS/);
    expect(hintFor(err('SELF_SIGNED_CERT_IN_CHAIN'), ctx)).toMatch(/set MCP_TUNNEL_CA_FILE/);
    expect(hintFor(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), { ...ctx, caFile: '/etc/ca.pem' })).toMatch(/not signed by the CA in MCP_TUNNEL_CA_FILE \(\/etc\/ca\.pem\)/);
    expect(hintFor(err('ERR_TLS_CERT_ALTNAME_INVALID'), ctx)).toMatch(/does not name "gw\.example"/);
    expect(hintFor(err('TUNNEL_PIN_MISMATCH'), ctx)).toMatch(/MCP_TUNNEL_PIN_SHA256/);
    expect(hintFor(err('TUNNEL_AUTH_FAILED'), ctx)).toMatch(/^wrong secret/);
    expect(hintFor(err('TUNNEL_UNKNOWN_TUNNEL'), ctx)).toMatch(/no tunnel "corp"/);
    expect(hintFor(err('SOMETHING_ELSE'), ctx)).toBeUndefined();
    expect(upstreamHint(err('TUNNEL_UPSTREAM_FORBIDDEN'), 'http://db:1')).toMatch(/MCP_TUNNEL_ALLOW/);
  });

  it('passes only when no step failed or was skipped; prints hints under failures', () => {
    const ok = [{ step: 'dns', status: 'pass' as const, detail: 'x' }, { step: 'tls', status: 'na' as const, detail: 'ws://' }];
    expect(allPassed(ok)).toBe(true);
    expect(allPassed([...ok, { step: 'tcp', status: 'skip' as const, detail: 'skipped' }])).toBe(false);
    const text = renderSteps([{ step: 'tcp', status: 'fail', detail: 'refused', hint: 'start it' }, { step: 'tls', status: 'skip', detail: 'skipped (tcp failed)' }]);
    expect(text).toBe('✗ tcp  refused\n       hint: start it\n- tls  skipped (tcp failed)\n\n1 check failed\n');
  });
});
