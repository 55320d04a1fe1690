#!/usr/bin/env node
/**
 * Reads a V8 `.cpuprofile` (from `node --cpu-prof`) and prints the top functions by self time and by
 * total time (a function's own samples plus its callees', counted once per sample even when it
 * recurses). Usage: `node dist/bench/prof-top.js <file.cpuprofile> [rows]`.
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

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(node_modules\/)?/, (m) => (m.includes('node_modules') ? 'nm/' : ''));
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

function main(): void {
  const [file, rowsArg] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: prof-top <file.cpuprofile> [rows]');
  const rows = Number(rowsArg ?? 30);
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
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

main();
