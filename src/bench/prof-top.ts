#!/usr/bin/env node
/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and prints the top functions by self time and by
 * total time (a function's own samples plus its callees', counted once per sample even when it
 * recurses). Usage: `node dist/bench/prof-top.js <file.cpuprofile> [rows]`. A `.heapprofile` (from
 * `node --heap-prof`) is read the same way, by sampled bytes allocated instead of samples.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}
/** A sampling heap profile: a tree of call sites, each with the bytes sampled there. */
interface HeapNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children?: HeapNode[];
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(node_modules\/)?/, (m) => (m.includes('node_modules') ? 'nm/' : ''));
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

function main(): void {
  const [file, rowsArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: prof-top <file.cpuprofile> [rows]');
  const rows = Number(rowsArg ?? 30);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Profile | { head: HeapNode };
  if ('head' in parsed) return showHeap(parsed.head, rows);
  const p = parsed;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const id of p.samples) {
    const n = byId.get(id)!;
    self.set(label(n), (self.get(label(n)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + 1);
    }
  }
  const n = p.samples.length;
  const show = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title} (${n} samples)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      process.stdout.write(`${((100 * v) / n).toFixed(1).padStart(5)}%  ${k}\n`);
    }
  };
  show('self', self);
  show('total', total);
}

/** Top allocation sites of a heap profile: bytes allocated by each function itself, and under it. */
function showHeap(head: HeapNode, rows: number): void {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  const walk = (node: HeapNode, stack: readonly string[]): void => {
    const l = label({ id: 0, callFrame: node.callFrame });
    const path = stack.includes(l) ? stack : [...stack, l];
    if (node.selfSize > 0) {
      all += node.selfSize;
      self.set(l, (self.get(l) ?? 0) + node.selfSize);
      for (const k of path) total.set(k, (total.get(k) ?? 0) + node.selfSize);
    }
    for (const c of node.children ?? []) walk(c, path);
  };
  walk(head, []);
  for (const [title, m] of [['self', self], ['total', total]] as const) {
    process.stdout.write(`\n${title} (${(all / 2 ** 20).toFixed(1)} MiB sampled)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
      process.stdout.write(`${((100 * v) / all).toFixed(1).padStart(5)}%  ${k}\n`);
    }
  }
}

main();
