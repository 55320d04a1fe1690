import type { HeaderPairs } from './format';

/** Headers as a tap receives them: pairs, Node's flat `rawHeaders`, or a Node headers object. */
export type TapHeaders = HeaderPairs | string[] | Record<string, string | string[] | number | undefined>;

/** Normalises tap headers to pairs (a copy: the caller may reuse its objects). */
export function toPairs(h: TapHeaders): HeaderPairs {
  if (Array.isArray(h)) {
    if (h.length === 0 || Array.isArray(h[0])) return (h as HeaderPairs).map(([n, v]) => [n, v]);
    const flat = h as string[];
    const out: HeaderPairs = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
    return out;
  }
  const out: HeaderPairs = [];
  for (const [n, v] of Object.entries(h)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([n, String(one)]);
  }
  return out;
}
