import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Subscription } from 'rxjs';
import { connectClient, type ConnectedClient } from '../../helpers/mcp-client';
import { sseItems } from '../../helpers/sse';
import type { Harness } from '../../helpers/tunnel-harness';
import type { ProxyStatus, RunningProxy } from '../../../src/proxy';

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-rotation-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Replaces a file the way editors do: write a temporary file, rename it over the old one. */
export function replaceFile(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * A Kubernetes-style secret volume: `dir/secret` → `..data/secret`, `..data` → `..<version>`.
 * `swap` updates it the way the kubelet does: a new version folder, then an atomic symlink rename.
 */
export function k8sSecretVolume(dir: string, initial: string): { file: string; swap(secret: string): void } {
  let version = 0;
  const writeVersion = (secret: string): string => {
    const name = `..v${++version}`;
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'secret'), `${secret}\n`, { mode: 0o600 });
    return name;
  };
  fs.symlinkSync(writeVersion(initial), path.join(dir, '..data'));
  fs.symlinkSync(path.join('..data', 'secret'), path.join(dir, 'secret'));
  return {
    file: path.join(dir, 'secret'),
    swap: (secret) => {
      const name = writeVersion(secret);
      fs.symlinkSync(name, path.join(dir, '..data_tmp'));
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    },
  };
}

/** Records every status a proxy goes through. */
export function recordStatus(proxy: RunningProxy): { states: ProxyStatus[]; sub: Subscription } {
  const states: ProxyStatus[] = [];
  const sub = proxy.status$.subscribe((s) => states.push(s));
  return { states, sub };
}

export interface SseStreamResult {
  status: number;
  ids: string[];
  lastAt: number;
  error: string | null;
}

/** GETs an SSE URL through the gateway and collects every event id until the stream ends. */
export async function readStream(h: Harness, server: string, query: string, onFirst?: () => void): Promise<SseStreamResult> {
  const result: SseStreamResult = { status: 0, ids: [], lastAt: 0, error: null };
  try {
    const res = await fetch(`${h.mcpUrl(server).href}${query}`, { headers: { authorization: `Bearer ${h.apiKey}`, accept: 'text/event-stream' } });
    result.status = res.status;
    for await (const item of sseItems(res)) {
      if (item.type !== 'event') continue;
      if (item.id !== undefined) result.ids.push(item.id);
      result.lastAt = item.receivedAt;
      if (result.ids.length === 1) onFirst?.();
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  return result;
}

/** `stop` functions of call loops still running, for {@link stopCallLoops}. */
const runningLoops = new Set<() => Promise<void>>();

/**
 * For `afterEach`, before the clients are closed: stops every {@link callLoop} a failed assertion
 * left running. Otherwise the loop, whose calls fail at once on a closed client, never yields to the
 * event loop again and the jest worker hangs.
 */
export async function stopCallLoops(): Promise<void> {
  await Promise.all([...runningLoops].map((stop) => stop()));
}

/** Tool calls in a loop on `clients` until `stop()` (or {@link stopCallLoops}); counts successes and failures. */
export function callLoop(clients: ConnectedClient[]): { ok: number; failed: string[]; stop(): Promise<void> } {
  const stats = { ok: 0, failed: [] as string[] };
  let running = true;
  const loops = clients.map(async (c, i) => {
    let n = 0;
    while (running) {
      const text = `c${i}-${n++}`;
      try {
        const r = await c.client.callTool({ name: 'echo', arguments: { text } });
        if (JSON.stringify(r.content).includes(text)) stats.ok++;
        else stats.failed.push(`wrong answer for ${text}`);
      } catch (err) {
        stats.failed.push(err instanceof Error ? err.message : String(err));
      }
    }
  });
  const stop = async (): Promise<void> => {
    running = false;
    runningLoops.delete(stop);
    await Promise.all(loops);
  };
  runningLoops.add(stop);
  return Object.assign(stats, { stop });
}

export async function mcpClients(h: Harness, n: number): Promise<ConnectedClient[]> {
  return Promise.all(Array.from({ length: n }, () => connectClient(h.mcpUrl('notes'), { headers: { Authorization: `Bearer ${h.apiKey}` } })));
}

export function expectedIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}
