import { BodyCapture, redact, REDACTED } from '../../../src/audit/body-capture';

const cfg = (o: Partial<{ maxBytes: number; redact: string[] }> = {}) => ({ enabled: true, maxBytes: 1024, redact: [], ...o });

describe('BodyCapture', () => {
  it('records a JSON body parsed, with configured paths redacted', () => {
    const c = new BodyCapture(cfg({ redact: ['params.arguments.password'] }));
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'login', arguments: { user: 'a', password: 'hunter2' } } };
    const text = Buffer.from(JSON.stringify(body));
    c.push(text.subarray(0, 10));
    c.push(text.subarray(10));
    expect(c.result('application/json')).toEqual({ ...body, params: { name: 'login', arguments: { user: 'a', password: REDACTED } } });
  });

  it('records an SSE body as its JSON-RPC messages, skipping comments and priming events', () => {
    const c = new BodyCapture(cfg({ redact: ['result.content.*.text'] }));
    c.push(Buffer.from(': keep-alive\n\nid: 1\ndata: \n\n'));
    c.push(Buffer.from('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n'));
    c.push(Buffer.from('event: message\ndata: {"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"secret"}]}}\n\n'));
    expect(c.result('text/event-stream')).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } },
      { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: REDACTED }] } },
    ]);
  });

  it('is bounded: a larger body is recorded as truncated with its size, an empty one as null', () => {
    const c = new BodyCapture(cfg({ maxBytes: 8 }));
    c.push(Buffer.from('{"a":"0123456789"}'));
    expect(c.result('application/json')).toEqual({ truncated: true, bytes: 18 });
    expect(new BodyCapture(cfg()).result('application/json')).toBeNull();
  });

  it('records a non-JSON body by size and type only', () => {
    const c = new BodyCapture(cfg());
    c.push(Buffer.from('not json'));
    expect(c.result('text/plain')).toEqual({ bytes: 8, contentType: 'text/plain' });
  });
});

describe('redact', () => {
  it('applies to every message of a batch and leaves the input untouched', () => {
    const batch = [{ params: { arguments: { token: 't1' } } }, { params: { arguments: { token: 't2' } } }];
    expect(redact(batch, ['params.arguments.token'])).toEqual([{ params: { arguments: { token: REDACTED } } }, { params: { arguments: { token: REDACTED } } }]);
    expect(batch[0]!.params.arguments.token).toBe('t1');
  });
  it('* matches any key; missing paths are ignored', () => {
    expect(redact({ a: { x: 1, y: 2 }, b: 3 }, ['a.*', 'nope.deeper'])).toEqual({ a: { x: REDACTED, y: REDACTED }, b: 3 });
  });
});
