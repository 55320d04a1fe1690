import { writeFile } from 'node:fs/promises';
import { firstValueFrom, type Observable } from '../rx';
import { describeError } from '../errors';
import type { Logger } from '../log';
import { ReplayError } from './errors';
import { toHar } from './har';
import { loadRecording, type Recording } from './reader';
import { jsonReport, junitReport, markdownReport } from './report';
import { runReplay } from './run';
import { startReplayServer, type Timing } from './serve';

/** What the `replay` commands touch outside themselves (a subset of the CLI's `CliIo`). */
export interface ReplayIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** SIGINT / SIGTERM as they arrive; `replay serve` stops on the first. */
  signals$: Observable<'SIGINT' | 'SIGTERM'>;
  logger?: Logger;
}

/** Exit codes: 0 fine, 1 a breaking difference / an unmatched request, 2 usage or I/O error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

interface Parsed {
  file: string;
  flags: Map<string, string[]>;
}

function parse(argv: readonly string[], allowed: Record<string, 'one' | 'many'>, usage: string): Parsed {
  const flags = new Map<string, string[]>();
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      if (file !== undefined) throw new ReplayError('TUNNEL_REPLAY_USAGE', `unexpected argument ${a}\n${usage}`);
      file = a;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const kind = allowed[name];
    if (kind === undefined) throw new ReplayError('TUNNEL_REPLAY_USAGE', `unknown option --${name}\n${usage}`);
    const value = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (value === undefined) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--${name} needs a value\n${usage}`);
    const list = flags.get(name) ?? [];
    if (kind === 'one' && list.length > 0) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--${name} given twice\n${usage}`);
    flags.set(name, [...list, value]);
  }
  if (file === undefined) throw new ReplayError('TUNNEL_REPLAY_USAGE', `no recording FILE\n${usage}`);
  return { file, flags };
}

/** `--timing instant|recorded|scaled:F`. */
export function parseTiming(v: string | undefined): Timing {
  if (v === undefined || v === 'instant') return { mode: 'instant' };
  if (v === 'recorded') return { mode: 'recorded' };
  const m = /^scaled:(\d+(\.\d+)?)$/.exec(v);
  if (m !== null && Number(m[1]) >= 0) return { mode: 'scaled', factor: Number(m[1]) };
  throw new ReplayError('TUNNEL_REPLAY_USAGE', `--timing must be instant, recorded or scaled:FACTOR (got ${v})`);
}

function listen(v: string | undefined): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v ?? '127.0.0.1:0');
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--listen must be HOST:PORT (got ${v ?? ''})`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

async function guarded(io: ReplayIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    const usage = (err as { code?: unknown }).code === 'TUNNEL_REPLAY_USAGE';
    io.stderr.write(`${usage ? 'usage error' : 'error'}: ${describeError(err)}\n`);
    return EXIT.usage;
  }
}

const SERVE_USAGE = 'usage: mcp-tunnel replay serve FILE [--listen HOST:PORT] [--timing instant|recorded|scaled:F] [--ignore POINTER]...';
const RUN_USAGE =
  "usage: mcp-tunnel replay run FILE --target URL [--server NAME] [--header 'Name: value']... [--report OUT.json] [--junit OUT.xml] [--ignore POINTER]... [--cut-sse-at N]";
const EXPORT_USAGE = 'usage: mcp-tunnel replay export FILE --har OUT.har';

/**
 * `replay serve`: prints one `MCP_URL=…` line per recorded server once listening, serves until
 * SIGINT/SIGTERM, then exits 0, or 1 when any request went unmatched (2 on a usage or I/O error).
 */
export function runReplayServe(argv: readonly string[], io: ReplayIo): Promise<number> {
  return guarded(io, async () => {
    const p = parse(argv, { listen: 'one', timing: 'one', ignore: 'many' }, SERVE_USAGE);
    const addr = listen(p.flags.get('listen')?.[0]);
    const timing = parseTiming(p.flags.get('timing')?.[0]);
    const recording = await loadRecording(p.file);
    const server = await startReplayServer(recording, {
      ...addr,
      timing,
      ignore: p.flags.get('ignore') ?? [],
      ...(io.logger === undefined ? {} : { logger: io.logger }),
    });
    for (const u of server.urls) io.stdout.write(`MCP_URL=${u.url}\n`);
    await firstValueFrom(io.signals$);
    await server.close();
    const unmatched = server.unmatched();
    if (unmatched > 0) io.stderr.write(`replay serve: ${unmatched} request(s) matched no recorded exchange\n`);
    return unmatched > 0 ? EXIT.failed : EXIT.ok;
  });
}

function pickServer(recording: Recording, wanted: string | undefined): string {
  if (wanted !== undefined) {
    if (!recording.servers.includes(wanted)) {
      throw new ReplayError('TUNNEL_REPLAY_USAGE', `--server ${wanted} is not in the recording (${recording.servers.join(', ')})`);
    }
    return wanted;
  }
  if (recording.servers.length !== 1) {
    throw new ReplayError('TUNNEL_REPLAY_USAGE', `the recording has servers ${recording.servers.join(', ')}: choose one with --server`);
  }
  return recording.servers[0]!;
}

/** `replay run`: exit 0 without a breaking difference, 1 with one, 2 on a usage or I/O error. */
export function runReplayRun(argv: readonly string[], io: ReplayIo): Promise<number> {
  return guarded(io, async () => {
    const p = parse(argv, { target: 'one', server: 'one', header: 'many', report: 'one', junit: 'one', ignore: 'many', 'cut-sse-at': 'one' }, RUN_USAGE);
    const cut = p.flags.get('cut-sse-at')?.[0];
    if (cut !== undefined && !/^[1-9]\d{0,5}$/.test(cut)) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--cut-sse-at must be a positive event number (got ${cut})`);
    const target = p.flags.get('target')?.[0];
    if (target === undefined || !/^https?:\/\//.test(target)) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--target URL is required\n${RUN_USAGE}`);
    const headers = (p.flags.get('header') ?? []).map((h): [string, string] => {
      const i = h.indexOf(':');
      if (i <= 0) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--header must be 'Name: value' (got ${h})`);
      return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
    });
    const recording = await loadRecording(p.file);
    const server = pickServer(recording, p.flags.get('server')?.[0]);
    const result = await runReplay(recording, {
      target,
      server,
      headers,
      ignore: p.flags.get('ignore') ?? [],
      ...(cut === undefined ? {} : { cutSseAt: Number(cut) }),
    });
    const rep = jsonReport(p.file, result);
    io.stdout.write(markdownReport(rep));
    const out = p.flags.get('report')?.[0];
    const junit = p.flags.get('junit')?.[0];
    try {
      if (out !== undefined) await writeFile(out, JSON.stringify(rep, null, 2) + '\n');
      if (junit !== undefined) await writeFile(junit, junitReport(rep));
    } catch (err) {
      throw new ReplayError('TUNNEL_REPLAY_IO', `cannot write the report: ${(err as Error).message}`, { cause: err });
    }
    return rep.summary.breaking > 0 ? EXIT.failed : EXIT.ok;
  });
}

/** `replay export FILE --har OUT.har`: exit 0, or 2 on a usage or I/O error. */
export function runReplayExport(argv: readonly string[], io: ReplayIo): Promise<number> {
  return guarded(io, async () => {
    const p = parse(argv, { har: 'one' }, EXPORT_USAGE);
    const out = p.flags.get('har')?.[0];
    if (out === undefined) throw new ReplayError('TUNNEL_REPLAY_USAGE', `--har OUT.har is required\n${EXPORT_USAGE}`);
    const recording = await loadRecording(p.file);
    try {
      await writeFile(out, JSON.stringify(toHar(recording), null, 2) + '\n');
    } catch (err) {
      throw new ReplayError('TUNNEL_REPLAY_IO', `cannot write ${out}: ${(err as Error).message}`, { cause: err });
    }
    io.stdout.write(`wrote ${recording.exchanges.length} entries to ${out}\n`);
    return EXIT.ok;
  });
}
