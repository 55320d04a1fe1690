import fc from 'fast-check';
import { McpRequestInspector } from '../../../src/audit/inspector';
import { MAX_BATCH_METHODS, MAX_INSPECTED_STRING_CHARS, type McpRequestInfo } from '../../../src/audit/mcp-info';

function inspect(body: string | Buffer, limitBytes?: number): Readonly<McpRequestInfo> {
  const inspector = new McpRequestInspector(limitBytes);
  inspector.push(typeof body === 'string' ? Buffer.from(body) : body);
  return inspector.finish();
}

describe('McpRequestInspector on whole bodies', () => {
  it('reads a request', () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18' } });
    expect(inspect(body)).toEqual({
      kind: 'request',
      mcpMethod: 'initialize',
      jsonrpcId: 1,
      tool: null,
      methods: null,
      truncated: false,
      bytes: Buffer.byteLength(body),
    });
  });

  it('reads a notification (no id)', () => {
    const info = inspect('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    expect(info).toMatchObject({ kind: 'notification', mcpMethod: 'notifications/initialized', jsonrpcId: null, tool: null });
  });

  it('reads the tool name of tools/call, with a string id', () => {
    const body = { jsonrpc: '2.0', id: 'req-7', method: 'tools/call', params: { name: 'search_docs', arguments: { q: 'x' } } };
    expect(inspect(JSON.stringify(body))).toMatchObject({ kind: 'request', mcpMethod: 'tools/call', jsonrpcId: 'req-7', tool: 'search_docs' });
  });

  it('reports no tool for other methods that have params.name, or tools/call without a name', () => {
    expect(inspect('{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"p"}}').tool).toBeNull();
    expect(inspect('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":42}}').tool).toBeNull();
    expect(inspect('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":["a"]}').tool).toBeNull();
  });

  it('reads responses (result and error)', () => {
    expect(inspect('{"jsonrpc":"2.0","id":3,"result":{}}')).toMatchObject({ kind: 'response', mcpMethod: null, jsonrpcId: 3 });
    expect(inspect('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}')).toMatchObject({
      kind: 'response',
      jsonrpcId: null,
    });
  });

  it('reads a batch: mcpMethod "batch" and the member methods', () => {
    const body = JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
      { jsonrpc: '2.0', id: 9, result: {} },
    ]);
    expect(inspect(body)).toEqual({
      kind: 'batch',
      mcpMethod: 'batch',
      jsonrpcId: null,
      tool: null,
      methods: ['tools/list', 'notifications/progress'],
      truncated: false,
      bytes: Buffer.byteLength(body),
    });
  });

  it('lists at most 32 batch methods', () => {
    const body = JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: `m${i}` })));
    const info = inspect(body);
    expect(info.methods).toHaveLength(MAX_BATCH_METHODS);
    expect(info.methods?.[31]).toBe('m31');
  });

  it('treats an empty batch as invalid', () => {
    expect(inspect('[]')).toMatchObject({ kind: 'invalid', mcpMethod: null, methods: null });
  });

  it('reports invalid JSON as invalid, without throwing', () => {
    expect(inspect('{"jsonrpc":"2.0","method":')).toEqual({
      kind: 'invalid',
      mcpMethod: null,
      jsonrpcId: null,
      tool: null,
      methods: null,
      truncated: false,
      bytes: 26,
    });
    expect(inspect('not json at all').kind).toBe('invalid');
    expect(inspect('"a string"').kind).toBe('invalid');
    expect(inspect('null').kind).toBe('invalid');
    expect(inspect(Buffer.from([0xff, 0xfe, 0x00, 0x7b])).kind).toBe('invalid');
  });

  it('marks a message that is not JSON-RPC 2.0 invalid but keeps what it tried', () => {
    expect(inspect('{"id":1,"method":"tools/list"}')).toMatchObject({ kind: 'invalid', mcpMethod: 'tools/list', jsonrpcId: 1 });
    expect(inspect('{"jsonrpc":"2.0","id":1,"method":7}')).toMatchObject({ kind: 'invalid', mcpMethod: null });
    expect(inspect('{"jsonrpc":"2.0","id":1}')).toMatchObject({ kind: 'invalid' });
  });

  it('reports an empty or blank body as empty', () => {
    expect(new McpRequestInspector().finish()).toEqual({
      kind: 'empty',
      mcpMethod: null,
      jsonrpcId: null,
      tool: null,
      methods: null,
      truncated: false,
      bytes: 0,
    });
    expect(inspect(' \r\n\t ')).toMatchObject({ kind: 'empty', bytes: 5 });
  });

  it('tolerates a UTF-8 byte order mark', () => {
    expect(inspect('\uFEFF{"jsonrpc":"2.0","id":1,"method":"ping"}')).toMatchObject({ kind: 'request', mcpMethod: 'ping' });
  });

  it('cuts attacker-sized strings and drops ids that are neither strings nor finite numbers', () => {
    const long = 'x'.repeat(10_000);
    const info = inspect(JSON.stringify({ jsonrpc: '2.0', id: long, method: 'tools/call', params: { name: long } }));
    expect(info.jsonrpcId).toHaveLength(MAX_INSPECTED_STRING_CHARS);
    expect(info.tool).toHaveLength(MAX_INSPECTED_STRING_CHARS);
    expect(inspect('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}').jsonrpcId).toBeNull();
    expect(inspect('{"jsonrpc":"2.0","id":1e400,"method":"ping"}').jsonrpcId).toBeNull();
  });

  it('uses the last of duplicate keys, like JSON.parse', () => {
    expect(inspect('{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}').mcpMethod).toBe('b');
  });

  it('is idempotent and ignores chunks pushed after finish', () => {
    const inspector = new McpRequestInspector();
    inspector.push(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}'));
    const first = inspector.finish();
    inspector.push(Buffer.from('garbage'));
    expect(inspector.finish()).toBe(first);
    expect(inspector.finished).toBe(true);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('copies what it keeps, so a producer reusing its buffer cannot change the result', () => {
    const inspector = new McpRequestInspector();
    const chunk = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    inspector.push(chunk);
    chunk.fill(0x20);
    expect(inspector.finish().mcpMethod).toBe('ping');
  });

  it('rejects a bad limit', () => {
    expect(() => new McpRequestInspector(-1)).toThrow(RangeError);
    expect(() => new McpRequestInspector(1.5)).toThrow(RangeError);
  });
});

describe('McpRequestInspector on bodies larger than the limit', () => {
  const LIMIT = 1024;
  const big = 'x'.repeat(4 * LIMIT);

  it('finds method, id and tool before the cut', () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'upload', arguments: { data: big } } });
    expect(inspect(body, LIMIT)).toEqual({
      kind: 'request',
      mcpMethod: 'tools/call',
      jsonrpcId: 7,
      tool: 'upload',
      methods: null,
      truncated: true,
      bytes: Buffer.byteLength(body),
    });
  });

  it('reports nothing it did not see when method and id come after the cut', () => {
    const body = JSON.stringify({ jsonrpc: '2.0', params: { arguments: { data: big }, name: 'upload' }, method: 'tools/call', id: 9 });
    expect(inspect(body, LIMIT)).toMatchObject({ kind: 'invalid', mcpMethod: null, jsonrpcId: null, tool: null, truncated: true });
  });

  it('reports a request with a null id when only the id is after the cut', () => {
    const body = JSON.stringify({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'upload', arguments: { data: big } }, id: 9 });
    expect(inspect(body, LIMIT)).toMatchObject({ kind: 'request', mcpMethod: 'tools/call', jsonrpcId: null, tool: 'upload', truncated: true });
  });

  it('does not report a number id cut in half', () => {
    const prefix = '{"jsonrpc":"2.0","method":"ping","id":12345';
    const body = prefix + ' '.repeat(10) + '}';
    const info = inspect(body, prefix.length - 2); // keeps `"id":123`
    expect(info).toMatchObject({ truncated: true, mcpMethod: 'ping', jsonrpcId: null });
  });

  it('skips over escaped quotes and nested containers in the prefix', () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      params: { arguments: { s: 'a "quoted" \\ "method":"evil"', list: [{ method: 'nested' }, [1, 2, { id: 5 }]] }, name: 'ok' },
      method: 'tools/call',
      id: 'abc',
      tail: big,
    });
    expect(inspect(body, LIMIT)).toMatchObject({ kind: 'request', mcpMethod: 'tools/call', jsonrpcId: 'abc', tool: 'ok', truncated: true });
  });

  it('reads the methods of a truncated batch', () => {
    const body = JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 't', arguments: { data: big } } },
      { jsonrpc: '2.0', id: 3, method: 'never/seen' },
    ]);
    expect(inspect(body, LIMIT)).toMatchObject({ kind: 'batch', mcpMethod: 'batch', methods: ['tools/list', 'tools/call'], truncated: true });
  });

  it('reports a blank or non-JSON prefix as invalid', () => {
    expect(inspect(' '.repeat(LIMIT + 1), LIMIT)).toMatchObject({ kind: 'invalid', truncated: true });
    expect(inspect('<html>' + big, LIMIT)).toMatchObject({ kind: 'invalid', truncated: true });
  });

  it('keeps nothing with a limit of 0', () => {
    expect(inspect('{"jsonrpc":"2.0","id":1,"method":"ping"}', 0)).toMatchObject({ kind: 'invalid', truncated: true, bytes: 40 });
  });

  // Soundness: whatever the cut, a value the scanner reports is the value JSON.parse would give.
  it('never reports a value that differs from the whole parse, at any cut (property)', () => {
    const name = fc.string({ maxLength: 12, unit: 'grapheme' });
    const message = fc.record({
      jsonrpc: fc.constant('2.0'),
      id: fc.oneof(fc.integer(), name),
      method: fc.oneof(fc.constant('tools/call'), name),
      params: fc.record({ name, arguments: fc.jsonValue({ maxDepth: 3 }) }),
    });
    const keyOrder = fc.shuffledSubarray(['jsonrpc', 'id', 'method', 'params'] as const, { minLength: 4, maxLength: 4 });
    const ordered = fc.tuple(message, keyOrder, fc.boolean());
    fc.assert(
      fc.property(ordered, fc.nat(), ([msg, order, pretty], cutSeed) => {
        const obj = Object.fromEntries(order.map((k) => [k, msg[k]]));
        const body = Buffer.from(JSON.stringify(obj, null, pretty ? 2 : undefined));
        const whole = inspect(body, body.length);
        expect(whole.truncated).toBe(false);
        const cut = cutSeed % body.length;
        const part = inspect(body, cut);
        expect(part.truncated).toBe(true);
        if (part.mcpMethod !== null) expect(part.mcpMethod).toBe(whole.mcpMethod);
        if (part.jsonrpcId !== null) expect(part.jsonrpcId).toBe(whole.jsonrpcId);
        if (part.tool !== null) expect(part.tool).toBe(whole.tool);
        // Every generated message has an id: a cut may hide it, but must not make it a notification.
        expect(['request', 'invalid']).toContain(part.kind);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary prefixes of arbitrary JSON or text (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ unit: 'binary' })), fc.nat(), (text, cutSeed) => {
        const body = Buffer.from(text);
        const cut = body.length === 0 ? 0 : cutSeed % body.length;
        expect(() => inspect(body, cut)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('stops quietly on nesting deeper than it tracks', () => {
    const body = '{"jsonrpc":"2.0","method":"x","params":' + '['.repeat(5000) + ']'.repeat(5000) + ',"id":1}';
    expect(inspect(body, body.length - 1)).toMatchObject({ kind: 'request', mcpMethod: 'x', jsonrpcId: null, truncated: true });
  });
});

describe('McpRequestInspector chunking', () => {
  const body = Buffer.from(
    JSON.stringify({ jsonrpc: '2.0', id: 'é-1', method: 'tools/call', params: { name: 'résumé📎', arguments: { q: 'naïve ✓' } } }),
  );

  function inspectChunks(chunks: Buffer[], limit?: number): Readonly<McpRequestInfo> {
    const inspector = new McpRequestInspector(limit);
    for (const c of chunks) inspector.push(c);
    return inspector.finish();
  }

  it('gives the same answer for a split at every position (including inside UTF-8 characters)', () => {
    const expected = inspect(body);
    expect(expected).toMatchObject({ kind: 'request', jsonrpcId: 'é-1', tool: 'résumé📎' });
    for (let i = 0; i <= body.length; i++) {
      expect(inspectChunks([body.subarray(0, i), body.subarray(i)])).toEqual(expected);
    }
  });

  it('gives the same answer for every pair of split positions, and byte by byte', () => {
    const expected = inspect(body);
    for (let i = 0; i <= body.length; i += 3) {
      for (let j = i; j <= body.length; j += 5) {
        expect(inspectChunks([body.subarray(0, i), body.subarray(i, j), body.subarray(j)])).toEqual(expected);
      }
    }
    expect(inspectChunks([...body].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('applies the limit across chunks at every split', () => {
    const limit = body.indexOf('"arguments"');
    const expected = inspect(body, limit);
    expect(expected).toMatchObject({ truncated: true, tool: 'résumé📎', jsonrpcId: 'é-1' });
    for (let i = 0; i <= body.length; i++) {
      expect(inspectChunks([body.subarray(0, i), body.subarray(i)], limit)).toEqual(expected);
    }
  });
});
