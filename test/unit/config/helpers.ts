import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_INVALID, type ConfigError } from '../../../src/config';

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(): { dir: string; write(name: string, content: string | object): string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-config-'));
  return {
    dir,
    write(name, content) {
      const file = path.join(dir, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      return file;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn`, expects a ConfigError, and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    // Codes, not instanceof: a test with an isolated module registry has its own ConfigError class.
    expect(err).toBeInstanceOf(Error);
    expect((err as ConfigError).code).toBe(CONFIG_INVALID);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}
