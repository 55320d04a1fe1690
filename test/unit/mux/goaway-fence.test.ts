import { once } from 'node:events';
import { Multiplexer, createLinkedTransportPair, type IncomingStream } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import type { PeerSettings, ResponseHead } from '../../../src/protocol';
import { waitFor } from '../../helpers/wait-for';

const settings: PeerSettings = { maxFrameSize: 16384, streamWindow: 65536, connectionWindow: 1 << 20, maxStreams: 100, maxHeaderBytes: 65536 };
const head = { rid: 'r1', server: 's', url: 'http://127.0.0.1/x', method: 'GET', headers: [] as Array<[string, string]> };

describe('Multiplexer: the GOAWAY race (regression: a recycled proxy connection refused a request the gateway sent before it read the GOAWAY)', () => {
  it('the proxy serves a stream the gateway opened before it read GOAWAY; the gateway opens none after', async () => {
    const [a, b] = createLinkedTransportPair();
    const g = new Multiplexer(a, { role: 'gateway', local: settings, remote: settings, logger: silentLogger() });
    const p = new Multiplexer(b, { role: 'proxy', local: settings, remote: settings, logger: silentLogger() });
    try {
      p.onStream(({ stream }: IncomingStream) => {
        stream.respond({ status: 200, headers: [] });
        stream.end('ok');
      });
      // Both in the same tick: the stream crosses the GOAWAY on the wire.
      p.goAway(0, 'recycling');
      const s = g.openStream(head, { endStream: true });
      const [rh] = (await once(s, 'response')) as [ResponseHead];
      expect(rh.status).toBe(200);
      await waitFor(() => g.isDraining);
      expect(g.canOpenStream).toBe(false);
    } finally {
      g.close();
      p.close();
    }
  });
});
