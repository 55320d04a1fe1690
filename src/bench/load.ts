/**
 * Load generation for the POST and the large-response scenarios.
 *
 * POSTs come from autocannon (programmatic, in this process, pipelining 1). Its own latency
 * histogram stores whole milliseconds, so latencies are taken from its `response` event instead:
 * `responseTime` there is measured with `process.hrtime` (ns) from the request's write to the end of
 * its response, and kept here at µs resolution; percentiles are exact (nearest rank over every
 * response of the run).
 */
import autocannon from 'autocannon';
import http from 'node:http';
import { cpuSeconds } from './procs';
import { percentile } from './stats';
import { POST_BODY, POST_HEADERS, type Target } from './target';

export interface PostResult {
  /** Responses with status 200 per second. */
  rps: number;
  /** ms, µs resolution. */
  p50: number;
  p99: number;
  /** Connection errors, timeouts and non-200 responses. */
  failures: number;
  /** The failures by kind: `status 503`, `timeout`, `error` (empty when none). */
  failureKinds: Record<string, number>;
  /** CPU ms of the hop's processes (all sides) per 1,000 POSTs; null when the target has none. */
  cpuMsPer1000: number | null;
}

/** Sends ~1 KB POSTs to `t` from `connections` connections for `seconds` (after a 0.5 s warm-up). */
export async function postLoad(t: Target, connections: number, seconds: number): Promise<PostResult> {
  const base = {
    url: `${t.origin}${t.postPath}`,
    method: 'POST' as const,
    headers: { ...POST_HEADERS, ...t.headers },
    body: POST_BODY,
    connections,
    pipelining: 1,
    timeout: 10,
  };
  await autocannon({ ...base, duration: 0.5 });

  const pids = Object.values(t.pids()).flat();
  const latencies: number[] = [];
  let failures = 0;
  const failureKinds: Record<string, number> = {};
  const count = (kind: string, n = 1): void => {
    if (n > 0) failureKinds[kind] = (failureKinds[kind] ?? 0) + n;
  };
  const cpu0 = cpuSeconds(pids);
  const t0 = process.hrtime.bigint();
  const instance = autocannon({ ...base, duration: seconds });
  // The instance emits (client, statusCode, resBytes, responseTime ms); @types/autocannon leaves out the client.
  (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status === 200) latencies.push(ms);
    else {
      failures += 1;
      count(`status ${status}`);
    }
  });
  const result = await instance;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds(pids) - cpu0;
  failures += result.errors;
  // autocannon counts timeouts among its errors.
  count('timeout', result.timeouts);
  count('connection error', result.errors - result.timeouts);
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / secs,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    failures,
    failureKinds,
    cpuMsPer1000: pids.length === 0 || latencies.length === 0 ? null : (cpu * 1000) / (latencies.length / 1000),
  };
}

/** GETs `url` (no keep-alive) and reads its whole body: status, bytes received, ms from the request to the end. */
export function timeStream(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let bytes = 0;
    const req = http.get(url, { agent: false, headers }, (res) => {
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - t0 }));
    });
    req.once('error', reject);
  });
}

/** GETs one `bytes`-byte response through `t` and returns MB/s (10^6 bytes per second). */
export async function streamOnce(t: Target, bytes: number): Promise<number> {
  const got = await timeStream(`${t.origin}${t.bytesPath(bytes)}`, { ...t.headers });
  if (got.status !== 200 || got.bytes !== bytes) throw new Error(`${t.name}: status ${got.status}, ${got.bytes} of ${bytes} bytes`);
  return bytes / 1e3 / got.ms;
}
