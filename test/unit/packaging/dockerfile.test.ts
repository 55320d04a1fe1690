import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// No Docker engine runs on CI machines, so the image cannot be built here; pin its contract instead.
const dockerfile = readFileSync(join(__dirname, '../../../Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => !l.trim().startsWith('#'));

describe('Dockerfile', () => {
  it('is multi-stage', () => {
    expect(lines.filter((l) => /^FROM\s/.test(l)).length).toBeGreaterThanOrEqual(2);
  });
  it('runs as a non-root user in the final stage', () => {
    const last = lines.slice(lines.map((l) => /^FROM\s/.test(l)).lastIndexOf(true));
    const user = last.filter((l) => /^USER\s/.test(l)).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER\s+(root|0)\b/);
  });
  it('runs `mcp-tunnel proxy` by default and exposes no port', () => {
    expect(lines.some((l) => /^EXPOSE\b/.test(l))).toBe(false);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/dist\/cli\/main\.js"\]/);
    expect(dockerfile).toMatch(/^CMD \["proxy"\]$/m);
  });
});
