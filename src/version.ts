import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function readVersion(): string {
  try {
    // src/version.ts and dist/version.js both sit one level below the package root.
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The package version, e.g. `0.1.0`. */
export const VERSION = readVersion();
/** What the proxy reports as its software in the handshake. */
export const SOFTWARE = `mcp-tunnel/${VERSION}`;
