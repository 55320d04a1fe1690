import { validateHeaderValue } from 'node:http';
import { Multiplexer, type FrameTransport, type TransportHandler } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import {
  ErrorCode,
  Flag,
  FrameType,
  HeaderProtocolError,
  decodeFrames,
  decodeRst,
  encodeFrame,
  encodeJson,
  parseRequestHead,
  parseResponseHead,
  type PeerSettings,
} from '../../../src/protocol';

const head = (headers: unknown, status: unknown = 200): Buffer => encodeJson({ status, headers });
const reqHead = (headers: unknown): Buffer => encodeJson({ rid: 'r', server: 's', url: 'http://127.0.0.1/mcp', method: 'POST', headers });

/** Every UTF-16 code unit Node's validateHeaderValue refuses below 0x100, plus some above. */
const NODE_INVALID = [...Array.from({ length: 0x100 }, (_, c) => c).filter((c) => {
  try {
    validateHeaderValue('x', String.fromCharCode(c));
    return false;
  } catch {
    return true;
  }
}), 0x100, 0x2028, 0xfffd];

describe('heads are validated exactly as Node writes them (regression: a \\x01 in a response header value crashed the gateway)', () => {
  it('refuses the same header value characters as http.validateHeaderValue, naming the header and not quoting the value', () => {
    expect(NODE_INVALID).toEqual(expect.arrayContaining([0, 1, 8, 0x0a, 0x0d, 0x1f, 0x7f, 0x100]));
    expect(NODE_INVALID).not.toContain(0x09);
    for (const c of NODE_INVALID) {
      const value = `secret${String.fromCharCode(c)}value`;
      for (const parse of [() => parseResponseHead(head([['x-evil', value]]), 65536), () => parseRequestHead(reqHead([['x-evil', value]]), 65536)]) {
        let err: unknown;
        try {
          parse();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(HeaderProtocolError);
        expect((err as HeaderProtocolError).header).toBe('x-evil');
        expect((err as Error).message).not.toContain('secret');
      }
    }
  });

  it('accepts what Node accepts: tab, visible ASCII, obs-text', () => {
    const value = `a\tb ~${String.fromCharCode(0x80)}${String.fromCharCode(0xff)}`;
    expect(parseResponseHead(head([['X-Ok', value]]), 65536).headers).toEqual([['x-ok', value]]);
  });

  it.each([[0], [99], [100], [199], [600], [999], [200.5], ['200'], [null]])('refuses status %p', (status) => {
    expect(() => parseResponseHead(head([], status), 65536)).toThrow(/status/);
  });

  it.each([[''], ['a b'], [':status'], ['caf\u00e9'], ['x\u0000']])('refuses header name %j', (name) => {
    expect(() => parseResponseHead(head([[name, 'v']]), 65536)).toThrow(HeaderProtocolError);
  });
});

describe('a hostile gateway sending a bad request head', () => {
  it('gets RST_STREAM PROTOCOL_ERROR for that stream only; the proxy handler never sees it and the connection stays up', async () => {
    const sent: Buffer[] = [];
    let handler: TransportHandler | null = null;
    const t: FrameTransport = {
      send: (m) => void sent.push(m),
      close: () => undefined,
      setHandler: (h) => void (handler = h),
      bufferedAmount: 0,
      remoteAddress: 'hostile-gateway',
    };
    const s: PeerSettings = { maxFrameSize: 16384, streamWindow: 65536, connectionWindow: 1 << 20, maxStreams: 100, maxHeaderBytes: 65536 };
    const p = new Multiplexer(t, { role: 'proxy', local: s, remote: s, logger: silentLogger() });
    const seen: string[] = [];
    p.onStream(({ stream, head: h }) => {
      stream.on('error', () => undefined);
      seen.push(h.rid);
    });
    handler!.onMessage(encodeFrame(FrameType.HEADERS, Flag.END_STREAM, 1, reqHead([['x', 'a\u0001b']])));
    handler!.onMessage(encodeFrame(FrameType.HEADERS, Flag.END_STREAM, 3, reqHead([['x', 'a\u0100b']])));
    handler!.onMessage(encodeFrame(FrameType.HEADERS, Flag.END_STREAM, 5, reqHead([['x', 'ok']])));
    await new Promise((r) => setImmediate(r));
    const rsts = sent.flatMap((m) => decodeFrames(m)).filter((f) => f.type === FrameType.RST_STREAM);
    expect(rsts.map((f) => [f.streamId, decodeRst(f.payload).code])).toEqual([[1, ErrorCode.PROTOCOL_ERROR], [3, ErrorCode.PROTOCOL_ERROR]]);
    expect(seen).toEqual(['r']);
    expect(p.isClosed).toBe(false);
    p.close();
  });
});
