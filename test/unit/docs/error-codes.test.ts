import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_ERROR_CODES } from '../../../src/gateway/errors';

const root = join(__dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

// Like fastify's error registry test: a code that is raised must be documented.
describe('docs/errors.md', () => {
  it('documents every TUNNEL_* code used in src/', () => {
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const codes = new Set<string>();
    for (const file of sources(join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(TUNNEL_[A-Z0-9_]+)'/g)) codes.add(m[1]!);
    }
    expect(codes.size).toBeGreaterThan(20);
    const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``));
    expect(missing).toEqual([]);
  });
});

// Like dispatch's registry: every gateway code has a row in the gateway table, with its status, and
// exactly the retryable codes are documented with Retry-After.
describe('docs/errors.md gateway table', () => {
  it('documents every GATEWAY_ERROR_CODES entry with its status and Retry-After', () => {
    const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Answered to MCP clients by the gateway'), doc.indexOf('## Proxy ⇄ gateway connection'));
    const rows = new Map(section.split('\n').filter((l) => l.startsWith('| `')).map((l) => [/^\| `([A-Z0-9_]+)`/.exec(l)?.[1], l.split('|')[2]!.trim()]));
    const problems: string[] = [];
    for (const [code, spec] of Object.entries(GATEWAY_ERROR_CODES)) {
      const http = rows.get(code);
      if (http === undefined) {
        problems.push(`${code}: no row`);
        continue;
      }
      if (!http.includes(spec.status === null ? '–' : String(spec.status))) problems.push(`${code}: HTTP column "${http}" does not name ${String(spec.status)}`);
      if (spec.retryable !== http.includes('Retry-After')) problems.push(`${code}: retryable ${String(spec.retryable)} but HTTP column "${http}"`);
    }
    expect(problems).toEqual([]);
  });
});
