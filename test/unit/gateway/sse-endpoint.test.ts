import { SseEndpointRewriter } from '../../../src/gateway/sse-endpoint';

/** Writes `pieces` one at a time and returns what came out after each write. */
function run(pieces: string[], rewrite: (endpoint: string) => string | null = (e) => `/mcp/notes${e}`): string[] {
  const rw = new SseEndpointRewriter(rewrite);
  const out: string[] = [];
  let pending = '';
  rw.on('data', (c: Buffer) => (pending += c.toString('utf8')));
  for (const piece of pieces) {
    rw.write(Buffer.from(piece, 'utf8'));
    out.push(pending);
    pending = '';
  }
  rw.end();
  if (pending) out.push(pending);
  return out;
}

describe('SseEndpointRewriter', () => {
  it('regression: a keep-alive comment line before the first event is passed on at once, not held until the event ends', () => {
    // Before the fix the comment sat in the rewriter until a blank line arrived: an idle standalone
    // GET stream whose server sent only `: keepalive\n` lines delivered nothing to the client.
    expect(run([': keepalive\n', ': keepalive\n', 'id: 1\ndata: x\n\n'])).toEqual([': keepalive\n', ': keepalive\n', 'id: 1\ndata: x\n\n']);
  });

  it('keeps looking for the endpoint event after leading comments and blank lines', () => {
    const out = run([': hi\n\n', '\r\n', 'event: endpoint\ndata: /messages?sessionId=abc\n\n', 'data: later\n\n']);
    expect(out).toEqual([': hi\n\n', '\r\n', 'event: endpoint\ndata: /mcp/notes/messages?sessionId=abc\n\n', 'data: later\n\n']);
  });

  it('holds an incomplete comment line, and a CR that may be half of CRLF, until the line is complete', () => {
    expect(run([': par', 'tial\r', '\n', 'data: x\n\n'])).toEqual(['', '', ': partial\r\n', 'data: x\n\n']);
  });

  it('still holds an incomplete first event until it ends (it may be the endpoint event)', () => {
    expect(run(['event: endpoint\n', 'data: /messages?sessionId=1\n', '\n'])).toEqual(['', '', 'event: endpoint\ndata: /mcp/notes/messages?sessionId=1\n\n']);
  });

  it('passes a first event that is not an endpoint event through unchanged', () => {
    expect(run(['retry: 2500\n\n', 'id: 1\ndata: \n\n'])).toEqual(['retry: 2500\n\n', 'id: 1\ndata: \n\n']);
  });
});
