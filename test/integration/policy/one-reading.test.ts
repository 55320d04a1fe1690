/**
 * Issue 8, "one reading of each request": what the gateway checks is what it forwards, and what it
 * records is what it forwarded — against an upstream built on the SDK's `createMcpExpressApp`, which
 * decodes bodies by their charset and inflates content codings, on Streamable HTTP and on the legacy
 * HTTP+SSE transport. Each test is named after the defect it pins.
 */
import { gzipSync } from 'node:zlib';
import type { PolicyRuleConfig } from '../../../src/config/types';
import { startExpressUpstream, type ExpressUpstream } from '../../fixtures/express-tools-upstream';
import { Resources, sseItems, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { rawRequest } from '../passthrough/helpers';
import { rule } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

const ACCEPT: [string, string] = ['Accept', 'application/json, text/event-stream'];
const denyEvil = rule({ name: 'no-evil', tools: { allow: ['echo'], deny: ['evil'] } });
/** `tools/call` of `evil`, as UTF-7 spells it: UTF-8 reads method "tools+AC8-call", name "+AGU-vil". */
const UTF7_EVIL = '{"jsonrpc":"2.0","id":1,"method":"tools+AC8-call","params":{"name":"+AGU-vil","arguments":{}}}';

interface Setup {
  up: ExpressUpstream;
  h: Harness;
  auth: [string, string];
  records: () => Array<Record<string, unknown>>;
}

async function setup(rules: PolicyRuleConfig[]): Promise<Setup> {
  const up = await startExpressUpstream();
  res.add(up);
  const h = res.add(
    await startHarness({
      servers: [
        { name: 'app', url: up.url },
        { name: 'legacy', url: up.sseUrl },
      ],
      gateway: (c) => void (c.policy = { rules, inspectLimitBytes: 64 * 1024 }),
    }),
  );
  return { up, h, auth: ['Authorization', `Bearer ${h.apiKey}`], records: () => h.gatewayAudit.lines.filter((l) => l.side === 'gateway') };
}

async function lastRecord(s: Setup): Promise<Record<string, unknown>> {
  return waitFor(() => s.records().at(-1));
}

function post(s: Setup, body: string | Buffer, headers: Array<[string, string]>, server = 'app'): ReturnType<typeof rawRequest> {
  return rawRequest(s.h.mcpUrl(server).href, { method: 'POST', headers: [s.auth, ACCEPT, ...headers], body });
}

/** Opens the legacy SSE stream through the gateway and returns the gateway URL of its message endpoint. */
async function legacyEndpoint(s: Setup): Promise<string> {
  const abort = new AbortController();
  res.add({ close: () => abort.abort() });
  const r = await fetch(s.h.mcpUrl('legacy'), { headers: { authorization: `Bearer ${s.h.apiKey}`, accept: 'text/event-stream' }, signal: abort.signal });
  for await (const item of sseItems(r)) {
    if (item.type === 'event' && item.event === 'endpoint') return new URL(item.data, s.h.mcpUrl('legacy')).href;
  }
  throw new Error('no endpoint event');
}

describe('issue 8 defect 1: charset differential (utf-7)', () => {
  it('sanity: the express upstream really runs a utf-7 body as tools/call of evil', async () => {
    const up = res.add(await startExpressUpstream());
    const r = await rawRequest(up.url, { method: 'POST', headers: [ACCEPT, ['Content-Type', 'application/json; charset=utf-7']], body: UTF7_EVIL });
    expect(r.status).toBe(200);
    expect(up.executed).toEqual(['evil']);
  });

  it('refuses charset=utf-7 on Streamable HTTP with 415 before the tunnel; nothing runs; the audit says why', async () => {
    const s = await setup([denyEvil]);
    const r = await post(s, UTF7_EVIL, [['Content-Type', 'application/json; charset=utf-7']]);
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { data: { code: 'TUNNEL_UNSUPPORTED_CHARSET' } } });
    expect(await lastRecord(s)).toMatchObject({ status: 415, errorCode: 'TUNNEL_UNSUPPORTED_CHARSET', conn: null, inspection: 'none' });
    expect(s.up.methods).toEqual([]);
    expect(s.up.executed).toEqual([]);
  });

  it.each(['application/json; charset="UTF-7"', 'text/plain; charset=utf-7', 'application/json; charset=utf-8; charset=utf-7', 'application/json;charset = utf-7'])(
    'refuses the Content-Type %j (415) without any tool rule',
    async (type) => {
      const s = await setup([]);
      const r = await post(s, UTF7_EVIL, [['Content-Type', type]]);
      expect(r.status).toBe(415);
      expect(s.up.executed).toEqual([]);
    },
  );

  it('refuses charset=utf-7 on the legacy HTTP+SSE message endpoint (415); nothing runs', async () => {
    const s = await setup([denyEvil]);
    const endpoint = await legacyEndpoint(s);
    const r = await rawRequest(endpoint, { method: 'POST', headers: [s.auth, ['Content-Type', 'application/json; charset=utf-7']], body: UTF7_EVIL });
    expect(r.status).toBe(415);
    expect(s.up.executed).toEqual([]);
  });

  it('refuses two Content-Type lines (400): the gateway would check one and forward both', async () => {
    const s = await setup([]);
    const r = await post(s, UTF7_EVIL, [['Content-Type', 'application/json'], ['Content-Type', 'application/json; charset=utf-7']]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { data: { code: 'TUNNEL_DUPLICATE_CONTENT_TYPE' } } });
    expect(s.up.executed).toEqual([]);
  });

  it('still forwards a UTF-8 body with charset=utf-8 and a BOM, byte for byte', async () => {
    const s = await setup([denyEvil]);
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"héllo"}}}')]);
    const r = await post(s, body, [['Content-Type', 'application/json; charset=UTF-8']]);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('echo:héllo');
    expect(s.up.executed).toEqual(['echo']);
    expect(await lastRecord(s)).toMatchObject({ mcpMethod: 'tools/call', tool: 'echo', inspection: 'complete', bytesIn: body.length, policy: { decision: 'allow' } });
  });
});

describe('issue 8 defect 6: a gzip-encoded body ran while the audit said method/tool null', () => {
  it('refuses Content-Encoding: gzip with 415 and Accept-Encoding: identity; nothing runs', async () => {
    const s = await setup([]);
    const gz = gzipSync('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"evil","arguments":{}}}');
    const r = await post(s, gz, [['Content-Type', 'application/json'], ['Content-Encoding', 'gzip']]);
    expect(r.status).toBe(415);
    expect(r.headers['accept-encoding']).toBe('identity');
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { data: { code: 'TUNNEL_UNSUPPORTED_ENCODING' } } });
    expect(s.up.executed).toEqual([]);
  });
});

describe('issue 8 defect 7: non-POST requests with a body skipped tool inspection', () => {
  it.each(['DELETE', 'GET', 'PUT'])('refuses %s with a body (400) before the tunnel', async (method) => {
    const s = await setup([denyEvil]);
    const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"evil","arguments":{}}}';
    const r = await rawRequest(s.h.mcpUrl('app').href, { method, headers: [s.auth, ACCEPT, ['Content-Type', 'application/json']], body });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { data: { code: 'TUNNEL_BODY_NOT_ALLOWED' } } });
    expect(await lastRecord(s)).toMatchObject({ httpMethod: method, errorCode: 'TUNNEL_BODY_NOT_ALLOWED', conn: null });
    expect(s.up.methods).toEqual([]);
  });
});

describe('issue 8: duplicate member names are refused (parsers disagree on which one wins)', () => {
  const dup = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{},"name":"evil"}}';

  it.each([
    ['without a tool rule', [] as PolicyRuleConfig[]],
    ['under a tool rule', [denyEvil]],
  ])('answers 400 / JSON-RPC -32700 %s; nothing runs', async (_name, rules) => {
    const s = await setup(rules);
    const r = await post(s, dup, [['Content-Type', 'application/json']]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { code: -32700, data: { code: 'TUNNEL_DUPLICATE_JSON_KEY' } } });
    expect(await lastRecord(s)).toMatchObject({ errorCode: 'TUNNEL_DUPLICATE_JSON_KEY', inspection: 'complete', conn: null });
    expect(s.up.executed).toEqual([]);
  });

  it('sees an escaped duplicate ("n\\u0061me") too', async () => {
    const s = await setup([]);
    const r = await post(s, dup.replace('"name":"evil"', '"n\\u0061me":"evil"'), [['Content-Type', 'application/json']]);
    expect(r.status).toBe(400);
    expect(s.up.executed).toEqual([]);
  });
});

describe('issue 8 defect 6: a body over the inspection limit is recorded as partially inspected', () => {
  const head = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"';

  it('marks a body of 64 KiB + 1 as inspection "partial"; bytesIn = the bytes forwarded', async () => {
    const s = await setup([]);
    const tail = '"}}}';
    const body = head + 'x'.repeat(64 * 1024 + 1 - head.length - tail.length) + tail;
    expect(Buffer.byteLength(body)).toBe(64 * 1024 + 1);
    const r = await post(s, body, [['Content-Type', 'application/json']]);
    expect(r.status).toBe(200);
    expect(s.up.executed).toEqual(['echo']);
    expect(await lastRecord(s)).toMatchObject({ mcpMethod: 'tools/call', tool: 'echo', inspection: 'partial', bytesIn: 64 * 1024 + 1 });
  });

  it('says "partial" when a duplicate name after the cut is what the upstream ran', async () => {
    const s = await setup([]);
    const tail = '"},"name":"evil"}}';
    // The second "name" starts right after the first 64 KiB (the inspected prefix).
    const body = head + 'x'.repeat(64 * 1024 - head.length - 3) + tail;
    expect(body.indexOf('"name":"evil"')).toBeGreaterThanOrEqual(64 * 1024 - 1);
    const r = await post(s, body, [['Content-Type', 'application/json']]);
    expect(r.status).toBe(200);
    // The upstream ran the last name; the record cannot know it, and says its view was partial.
    expect(s.up.executed).toEqual(['evil']);
    expect(await lastRecord(s)).toMatchObject({ mcpMethod: 'tools/call', tool: 'echo', inspection: 'partial', bytesIn: Buffer.byteLength(body) });
  });

  it('refuses the same body under a tool rule (413): a rule never decides on a partial view', async () => {
    const s = await setup([denyEvil]);
    const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"${'x'.repeat(64 * 1024)}"}}}`;
    const r = await post(s, body, [['Content-Type', 'application/json']]);
    expect(r.status).toBe(413);
    expect(s.up.executed).toEqual([]);
  });

  it('records a body of exactly 64 KiB as complete', async () => {
    const s = await setup([]);
    const tail = '"}}}';
    const body = head + 'y'.repeat(64 * 1024 - head.length - tail.length) + tail;
    const r = await post(s, body, [['Content-Type', 'application/json']]);
    expect(r.status).toBe(200);
    expect(await lastRecord(s)).toMatchObject({ tool: 'echo', inspection: 'complete', bytesIn: 64 * 1024 });
  });
});
