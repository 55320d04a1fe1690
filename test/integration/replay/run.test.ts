import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { connectClient } from '../../helpers';
import { captureIo } from '../../helpers/replay-io';
import { recordThrough } from '../../helpers/recording-proxy';
import { runReplayRun, type JsonReport } from '../../../src/replay';

type Variant = 'base' | 'changed-output' | 'removed-tool';

/** A small SDK server; `variant` changes what `add` answers or drops the `echo` tool. */
async function startUpstream(variant: Variant): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const build = (): McpServer => {
    const s = new McpServer({ name: 'calc', version: '1.0.0' });
    s.registerTool('add', { description: 'a + b', inputSchema: { a: z.number(), b: z.number() } }, (args) => {
      const sum = args.a + args.b + (variant === 'changed-output' ? 1 : 0);
      return { content: [{ type: 'text', text: JSON.stringify({ sum }) }] };
    });
    if (variant !== 'removed-tool') {
      s.registerTool('echo', { description: 'echo', inputSchema: { text: z.string() } }, (args) => ({
        content: [{ type: 'text', text: args.text }],
      }));
    }
    return s;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sid = req.headers['mcp-session-id'];
    let t = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (t === undefined) {
      t = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void transports.set(id, t!) });
      await build().connect(t);
    }
    await t.handleRequest(req, res);
  };
  const http: Server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: async () => {
      for (const t of transports.values()) await t.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

const io = captureIo;

describe('replay run', () => {
  let dir: string;
  const open: Array<{ close(): Promise<void> }> = [];
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-run-'));
    const up = await startUpstream('base');
    open.push(up);
    file = join(dir, 'calc.jsonl');
    await recordThrough(file, { calc: up.url }, async (proxy) => {
      const c = await connectClient(proxy.url('calc'));
      await c.client.listTools();
      await c.client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      await c.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      await c.close();
    });
  });
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function runAgainst(variant: Variant): Promise<{ code: number; out: string; report: JsonReport; junit: string }> {
    const up = await startUpstream(variant);
    open.push(up);
    const streams = io();
    const reportFile = join(dir, `${variant}.json`);
    const junitFile = join(dir, `${variant}.xml`);
    const code = await runReplayRun([file, '--target', up.url, '--report', reportFile, '--junit', junitFile], streams);
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as JsonReport;
    return { code, out: streams.out(), report, junit: await readFile(junitFile, 'utf8') };
  }

  it('reports no difference against an unchanged upstream (exit 0)', async () => {
    const r = await runAgainst('base');
    expect(r.report.differences).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('No differences.');
    expect(r.report.summary.exchanges).toBeGreaterThanOrEqual(4);
  });

  it('exits 1 and names the call and the JSON path when a tool output changed', async () => {
    const r = await runAgainst('changed-output');
    expect(r.code).toBe(1);
    const d = r.report.differences.filter((x) => x.severity === 'breaking');
    expect(d).toHaveLength(1);
    expect(d[0]!.call).toBe('tools/call add');
    // The text holds JSON: compared as JSON, the pointer goes into it.
    expect(d[0]!.ops).toEqual([{ op: 'replace', path: '/result/content/0/text/sum', value: 6, was: 5 }]);
    expect(r.out).toContain('tools/call add');
    expect(r.out).toContain('/result/content/0/text/sum');
    expect(r.junit).toContain('<failure message="result changed"');
  });

  it('reports a removed tool as breaking', async () => {
    const r = await runAgainst('removed-tool');
    expect(r.code).toBe(1);
    const messages = r.report.differences.filter((x) => x.severity === 'breaking').map((x) => `${x.call}: ${x.message}`);
    expect(messages).toContain('tools/list: tool echo removed');
    expect(messages).toContain('tools/call echo: success → error');
  });

  it('exits 2 on a usage error or an unreadable recording', async () => {
    const s = io();
    expect(await runReplayRun([file], s)).toBe(2);
    expect(await runReplayRun([join(dir, 'missing.jsonl'), '--target', 'http://127.0.0.1:9/mcp'], s)).toBe(2);
    expect(s.out()).toContain('TUNNEL_REPLAY_IO');
  });
});
