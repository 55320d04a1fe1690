import type { Difference } from './compare';
import type { RunResult } from './run';

/** The JSON report (`--report OUT.json`): the run, every difference with its JSON Patch, and counts. */
export interface JsonReport {
  format: 'mcp-tunnel-replay-report';
  version: 1;
  recording: string;
  target: string;
  server: string;
  summary: { exchanges: number; breaking: number; warning: number; info: number };
  exchanges: RunResult['exchanges'];
  differences: Difference[];
}

export function jsonReport(recording: string, r: RunResult): JsonReport {
  const count = (s: Difference['severity']): number => r.differences.filter((d) => d.severity === s).length;
  return {
    format: 'mcp-tunnel-replay-report',
    version: 1,
    recording,
    target: r.target,
    server: r.server,
    summary: { exchanges: r.exchanges.length, breaking: count('breaking'), warning: count('warning'), info: count('info') },
    exchanges: r.exchanges,
    differences: r.differences,
  };
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function short(v: unknown): string {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The Markdown report printed on the terminal. */
export function markdownReport(rep: JsonReport): string {
  const s = rep.summary;
  const lines = [
    `# replay run: ${rep.server} → ${rep.target}`,
    '',
    `${s.exchanges} exchanges replayed: **${s.breaking} breaking**, ${s.warning} warnings, ${s.info} info.`,
    '',
  ];
  if (rep.differences.length === 0) return [...lines, 'No differences.', ''].join('\n');
  lines.push('| severity | seq | call | difference | path | recorded | live |', '|---|---|---|---|---|---|---|');
  for (const d of rep.differences) {
    for (const op of d.ops.length > 0 ? d.ops : [{ op: 'replace' as const, path: '' }]) {
      lines.push(`| ${d.severity} | ${d.seq} | ${cell(d.call)} | ${cell(d.message)} | \`${cell(op.path || '/')}\` | ${cell(short(op.was))} | ${cell(short(op.value))} |`);
    }
  }
  return [...lines, ''].join('\n');
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JUnit XML (`--junit OUT.xml`): one test case per replayed exchange; a breaking difference fails it. */
export function junitReport(rep: JsonReport): string {
  const cases = rep.exchanges.map((e) => {
    const diffs = rep.differences.filter((d) => d.exchange === e.id);
    const breaking = diffs.filter((d) => d.severity === 'breaking');
    const name = xml(`seq ${e.seq} ${e.call}`);
    const detail = (ds: Difference[]): string => xml(ds.map((d) => `${d.severity}: ${d.message} ${JSON.stringify(d.ops)}`).join('\n'));
    const failure = breaking.length === 0 ? '' : `<failure message="${xml(breaking.map((d) => d.message).join('; '))}">${detail(breaking)}</failure>`;
    const out = diffs.length === breaking.length ? '' : `<system-out>${detail(diffs.filter((d) => d.severity !== 'breaking'))}</system-out>`;
    return `    <testcase classname="replay.${xml(rep.server)}" name="${name}">${failure}${out}</testcase>`;
  });
  const failures = rep.exchanges.filter((e) => rep.differences.some((d) => d.exchange === e.id && d.severity === 'breaking')).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="mcp-tunnel replay run" tests="${rep.exchanges.length}" failures="${failures}">`,
    `  <testsuite name="${xml(rep.server)}" tests="${rep.exchanges.length}" failures="${failures}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
