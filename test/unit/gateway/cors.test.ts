import type { IncomingMessage } from 'node:http';
import { withGatewayCors } from '../../../src/gateway/cors';
import type { HeaderList } from '../../../src/http';

const browser = { headers: { origin: 'http://localhost:5173' } } as unknown as IncomingMessage;
const notBrowser = { headers: {} } as unknown as IncomingMessage;

describe('withGatewayCors', () => {
  it('adds the gateway’s exposed headers and Origin to the upstream’s own lists, keeping its names and order', () => {
    const upstream: HeaderList = [
      ['content-type', 'application/json'],
      ['access-control-expose-headers', 'X-Trace, MCP-Session-Id'],
      ['vary', 'Accept-Encoding'],
    ];
    expect(withGatewayCors(browser, upstream)).toEqual([
      ['content-type', 'application/json'],
      ['access-control-expose-headers', 'X-Trace, MCP-Session-Id, mcp-protocol-version, www-authenticate, retry-after, x-request-id'],
      ['vary', 'Accept-Encoding, Origin'],
    ]);
  });

  it('leaves a wildcard, an already complete list and a non-browser request alone', () => {
    const upstream: HeaderList = [
      ['access-control-expose-headers', '*'],
      ['vary', 'origin'],
    ];
    expect(withGatewayCors(browser, upstream)).toEqual(upstream);
    const other: HeaderList = [['access-control-expose-headers', 'X-Trace']];
    expect(withGatewayCors(notBrowser, other)).toBe(other);
  });
});
