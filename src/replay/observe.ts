import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { toPairs } from './tap-headers';
import type { HeaderPairs } from './format';

/**
 * Calls `onChunk` with every chunk handed to `w` (`write` and `end`), right AFTER `w` took it: what
 * the tap sees is exactly what was forwarded, in order, whoever writes (a `pipe`, a filter, a direct
 * call). Only installed on a recorded exchange, so an unrecorded one pays nothing.
 */
export function observeWrites(w: Writable, onChunk: (chunk: Uint8Array) => void): void {
  const write = w.write.bind(w) as (...args: unknown[]) => boolean;
  const end = w.end.bind(w) as (...args: unknown[]) => Writable;
  const seen = (chunk: unknown, enc: unknown): void => {
    if (typeof chunk === 'string') onChunk(Buffer.from(chunk, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8'));
    else if (chunk instanceof Uint8Array && chunk.byteLength > 0) onChunk(chunk);
  };
  // Instance properties shadow the prototype's methods; `pipe` and Node's internals look them up.
  w.write = ((...args: unknown[]) => {
    const ok = write(...args);
    seen(args[0], args[1]);
    return ok;
  }) as Writable['write'];
  w.end = ((...args: unknown[]) => {
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    const r = end(...args);
    if (chunk !== undefined && chunk !== null) seen(chunk, args[1]);
    return r;
  }) as Writable['end'];
}

/**
 * Calls `onHead` with the status and headers of `res` once its head is written (explicit `writeHead`
 * or Node's implicit one): headers set earlier with `setHeader`, overridden by those passed in.
 */
export function observeHead(res: ServerResponse, onHead: (status: number, headers: HeaderPairs) => void): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  let seen = false;
  res.writeHead = ((...args: unknown[]) => {
    const before = res.getHeaders();
    const r = writeHead(...args);
    if (!seen) {
      seen = true;
      const given = typeof args[1] === 'string' ? args[2] : args[1];
      onHead(res.statusCode, mergeHeaders(before, given));
    }
    return r;
  });
}

function mergeHeaders(before: OutgoingHttpHeaders, given: unknown): HeaderPairs {
  const pairs = given === undefined || given === null ? [] : toPairs(given as HeaderPairs);
  const named = new Set(pairs.map(([n]) => n.toLowerCase()));
  const earlier = toPairs(before as Record<string, string | string[] | number | undefined>).filter(([n]) => !named.has(n.toLowerCase()));
  return [...earlier, ...pairs];
}
