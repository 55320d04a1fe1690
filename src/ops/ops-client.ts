import { request } from 'node:http';
import { DEFAULT_OPS_LISTEN, parseOpsListen } from './listen-address';
import { OpsError, type OpsCode } from './errors';

/** Largest ops answer read (`/readyz`, `/status`); anything longer is refused. */
export const MAX_OPS_BODY_BYTES = 4 * 1024 * 1024;

/**
 * The ops listener's base URL: `urlText` when given, else `http://` + `listen` (a `HOST:PORT`), else
 * `MCP_TUNNEL_OPS_LISTEN`, else the conventional 127.0.0.1:9464. A wildcard listen address is
 * asked on loopback.
 * @throws OpsError `usageCode` when `urlText` is not `http://HOST:PORT` (no path, query or credentials)
 */
export function opsBaseUrl(urlText: string | undefined, env: NodeJS.ProcessEnv, usageCode: OpsCode, listen?: string): URL {
  const usage = (m: string): OpsError => new OpsError(usageCode, m);
  let text = urlText;
  if (text === undefined) {
    const at = parseOpsListen(listen ?? (env['MCP_TUNNEL_OPS_LISTEN'] || DEFAULT_OPS_LISTEN));
    const host = at.host.includes(':') ? `[${at.host}]` : at.host === '0.0.0.0' ? '127.0.0.1' : at.host;
    text = `http://${host === '[::]' ? '[::1]' : host}:${at.port}`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`--url ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'http:' || url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw usage(`--url must be http://HOST:PORT (the ops listener; no path, query or credentials), got ${JSON.stringify(text)}`);
  }
  return url;
}

/**
 * `GET base + path` on an ops listener: the status and the body (at most `maxBytes`).
 * @throws OpsError `unreachableCode` when it cannot connect or gets no answer within `timeoutMs`;
 *   `tooLargeCode` when the body is longer than `maxBytes`.
 */
export function getOps(
  base: URL,
  path: string,
  o: { timeoutMs: number; maxBytes?: number; unreachableCode: OpsCode; tooLargeCode: OpsCode },
): Promise<{ status: number; body: string }> {
  const maxBytes = o.maxBytes ?? MAX_OPS_BODY_BYTES;
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method: 'GET', timeout: o.timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) req.destroy(new OpsError(o.tooLargeCode, `${path} body over ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new OpsError(o.unreachableCode, `no answer from ${base.origin} within ${o.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err instanceof OpsError ? err : new OpsError(o.unreachableCode, `cannot reach ${base.origin}: ${err.code ?? err.message}`, { cause: err })),
    );
    req.end();
  });
}
