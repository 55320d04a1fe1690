import { parseSessionControl } from '../../../src/protocol';

const parse = (v: unknown, limit = 65536): ReturnType<typeof parseSessionControl> => parseSessionControl(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), limit);
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('parseSessionControl (protocol.md §8)', () => {
  it('parses the four re-authentication messages', () => {
    expect(parse({ type: 'reauth_request' })).toEqual({ type: 'reauth_request' });
    expect(parse({ type: 'challenge', nonce: 'n', reason: 'secret revoked', deadlineMs: 60000, extra: 1 })).toEqual({ type: 'challenge', nonce: 'n', reason: 'secret revoked', deadlineMs: 60000 });
    expect(parse({ type: 'reauth', proof: 'p' })).toEqual({ type: 'reauth', proof: 'p' });
    expect(parse({ type: 'reauth_result', ok: false, reason: 'no' })).toEqual({ type: 'reauth_result', ok: false, reason: 'no' });
  });

  it('returns null for unknown types (they MUST be ignored)', () => {
    expect(parse({ type: 'drain_notice', at: 1 })).toBeNull();
  });

  it('rejects malformed payloads and handshake types with stable codes', () => {
    expect(codeOf(() => parse('{nope'))).toBe('TUNNEL_PROTOCOL_BAD_JSON');
    expect(codeOf(() => parse([1]))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ kind: 'x' }))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ type: 'challenge', nonce: 'n', reason: 'r', deadlineMs: -1 }))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ type: 'challenge', nonce: 'n', reason: 'r', deadlineMs: 1.5 }))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ type: 'reauth', proof: 'x'.repeat(300) }))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ type: 'reauth_result', ok: 'yes', reason: '' }))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ type: 'hello', versions: [1], nonce: 'n' }))).toBe('TUNNEL_PROTOCOL_BAD_MESSAGE');
    expect(codeOf(() => parse({ type: 'reauth_request' }, 10))).toBe('TUNNEL_PROTOCOL_TOO_LARGE');
  });
});
