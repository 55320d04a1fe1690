import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import type WebSocket from 'ws';
import { wsTransport } from '../../../src/connection';
import { truncateCloseReason } from '../../../src/connection/ws-transport';

/**
 * Stands in for a `ws` WebSocket: what matters here is that `close` throws, as ws's Sender does,
 * when the reason is over 123 bytes of UTF-8.
 */
class FakeWebSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  binaryType = 'arraybuffer';
  bufferedAmount = 0;
  readonly closes: Array<{ code: number; reason: string }> = [];
  close(code: number, reason: string): void {
    if (Buffer.byteLength(reason) > 123) throw new RangeError('The message must not be greater than 123 bytes');
    this.closes.push({ code, reason });
    this.readyState = this.CLOSING;
  }
}

describe('wsTransport close reasons', () => {
  it('regression: a reason over 123 bytes of UTF-8 but under 120 characters no longer makes close throw', () => {
    const ws = new FakeWebSocket();
    const t = wsTransport(ws as unknown as WebSocket, 'test');
    // What the handshake produced for a control message with an unknown, non-ASCII type.
    const reason = `TUNNEL_PROTOCOL_BAD_MESSAGE: unknown control message type "${'€'.repeat(39)}"`;
    expect(() => t.close(4400, reason)).not.toThrow();
    expect(ws.closes).toHaveLength(1);
    expect(Buffer.byteLength(ws.closes[0]!.reason)).toBeLessThanOrEqual(123);
    expect(reason.startsWith(ws.closes[0]!.reason)).toBe(true);
  });

  it('truncateCloseReason keeps the longest whole-character prefix that fits in 123 bytes', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udc00'), maxLength: 200 }),
    );
    fc.assert(
      fc.property(text, (s) => {
        const out = truncateCloseReason(s);
        const bytes = Buffer.byteLength(out);
        expect(bytes).toBeLessThanOrEqual(123);
        expect(s.startsWith(out)).toBe(true);
        if (Buffer.byteLength(s) <= 123) {
          expect(out).toBe(s);
        } else {
          // Maximal: the next whole character would not have fitted.
          const next = [...s.slice(out.length)][0]!;
          expect(bytes + Buffer.byteLength(next)).toBeGreaterThan(123);
        }
      }),
      { seed: 0x5eed, numRuns: 300 },
    );
  });
});
