/**
 * Every line about one proxy tunnel connection carries the same connection fields (`component`,
 * `tunnel`, `conn`, `slot`), whether served-connection.ts logs it or the connection's multiplexer
 * does: one child logger per connection.
 */
import { Resources, waitFor } from '../../helpers';
import { startHarness } from '../../helpers/tunnel-harness';

describe('proxy connection log fields', () => {
  const res = new Resources();
  afterEach(() => res.closeAll());

  it('the connected line has exactly its fields; the multiplexer’s and the closed line carry the same connection fields', async () => {
    const h = res.add(await startHarness({ servers: [] }));
    const connected = await waitFor(() => h.logs.find((l) => l.msg === 'tunnel connected and authenticated'), { message: 'connected line' });
    expect(Object.keys(connected).sort()).toEqual(['component', 'conn', 'hostname', 'level', 'msg', 'pid', 'slot', 'time', 'tunnel', 'url', 'version']);
    expect(connected).toMatchObject({ level: 30, component: 'connection', tunnel: 'corp', slot: 0, url: h.proxyConfig.url });
    const base = { component: connected.component, tunnel: connected.tunnel, conn: connected.conn, slot: connected.slot };

    await h.gateway.close(0); // GOAWAY to the proxy: its multiplexer logs it, then the connection closes
    const closed = await waitFor(() => h.logs.find((l) => typeof l.msg === 'string' && l.msg.endsWith('tunnel connection closed') && l.conn === connected.conn), { message: 'closed line' });
    expect(closed).toMatchObject(base);
    const ofConnection = h.logs.lines.filter((l) => l.conn === connected.conn && l.component === connected.component);
    expect(ofConnection.map((l) => l.msg)).toContain('peer sent GOAWAY'); // the multiplexer's
    for (const l of ofConnection) expect(l).toMatchObject(base);
  });
});
