import * as fs from 'node:fs';
import * as path from 'node:path';
import { watchTlsFiles, loadTlsPair, type TlsPair } from '../../../src/gateway/tls-reload';
import { TestCa } from '../../helpers/certs';
import { LogCapture } from '../../helpers/tunnel-harness';

let ca: TestCa;
beforeAll(() => {
  ca = new TestCa();
});
afterAll(() => ca.cleanup());
afterEach(() => jest.useRealTimers());

/** A fake fs.watch: records folders and listeners; `fire()` simulates events. */
function fakeWatch() {
  type Listener = (event: string, filename: string | Buffer | null) => void;
  const watchers: Array<{ dir: string; listener: Listener; closed: boolean }> = [];
  return {
    watchers,
    watch: (dir: string, _o: { persistent: boolean }, listener: Listener) => {
      const w = { dir, listener, closed: false };
      watchers.push(w);
      return { close: () => (w.closed = true), on: () => ({}) as fs.FSWatcher };
    },
    /** An event naming `filename` (null: a platform that names none). */
    fire: (filename: string | null = null) => watchers.forEach((w) => w.listener('change', filename)),
  };
}

describe('watchTlsFiles', () => {
  it('watches each folder once, debounces events, applies a changed valid pair, and closes every watcher', () => {
    jest.useFakeTimers();
    const a = ca.issue('unit-a');
    const b = ca.issue('unit-b');
    const dir = fs.mkdtempSync(path.join(ca.dir, 'w-'));
    const files = { cert: path.join(dir, 'c.pem'), key: path.join(dir, 'k.pem') };
    fs.copyFileSync(a.cert, files.cert);
    fs.copyFileSync(a.key, files.key);
    const applied: TlsPair[] = [];
    const fw = fakeWatch();
    const logs = new LogCapture();
    const reloader = watchTlsFiles({ files, current: loadTlsPair(files), apply: (p) => applied.push(p), logger: logs.logger, debounceMs: 100, watch: fw.watch });
    expect(fw.watchers.map((w) => w.dir)).toEqual([dir]);

    fw.fire(); // unchanged files: nothing to apply
    jest.advanceTimersByTime(100);
    expect(applied).toHaveLength(0);

    fs.copyFileSync(b.cert, files.cert);
    fw.fire('audit.log'); // another file in the folder: not a reason to reload
    jest.advanceTimersByTime(100);
    expect(applied).toHaveLength(0);
    fw.fire('c.pem');
    jest.advanceTimersByTime(50);
    fs.copyFileSync(b.key, files.key); // the key arrives within the debounce: no failure logged
    fw.fire();
    jest.advanceTimersByTime(99);
    expect(applied).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(applied).toHaveLength(1);
    expect(applied[0]?.cert.equals(fs.readFileSync(b.cert))).toBe(true);
    expect(logs.find((l) => l.code === 'TUNNEL_GATEWAY_TLS_RELOAD_FAILED')).toBeUndefined();

    fw.fire();
    reloader.close();
    jest.advanceTimersByTime(1000);
    expect(applied).toHaveLength(1); // a pending reload is cancelled by close
    expect(fw.watchers.every((w) => w.closed)).toBe(true);
  });

  it('logs a mismatched pair at error and keeps the current one', () => {
    jest.useFakeTimers();
    const a = ca.issue('unit-mis-a');
    const b = ca.issue('unit-mis-b');
    const certDir = fs.mkdtempSync(path.join(ca.dir, 'c-'));
    const keyDir = fs.mkdtempSync(path.join(ca.dir, 'k-'));
    const files = { cert: path.join(certDir, 'c.pem'), key: path.join(keyDir, 'k.pem') };
    fs.copyFileSync(a.cert, files.cert);
    fs.copyFileSync(a.key, files.key);
    const apply = jest.fn();
    const fw = fakeWatch();
    const logs = new LogCapture();
    const reloader = watchTlsFiles({ files, current: loadTlsPair(files), apply, logger: logs.logger, debounceMs: 10, watch: fw.watch });
    expect(fw.watchers.map((w) => w.dir).sort()).toEqual([certDir, keyDir].sort());
    fs.copyFileSync(b.cert, files.cert);
    fw.fire();
    jest.advanceTimersByTime(10);
    expect(apply).not.toHaveBeenCalled();
    const line = logs.find((l) => l.code === 'TUNNEL_GATEWAY_TLS_RELOAD_FAILED');
    expect(line).toMatchObject({ level: 50 });
    expect(String(line?.err)).toContain('TUNNEL_GATEWAY_TLS_INVALID');
    expect(logs.raw.join('\n')).not.toContain(fs.readFileSync(a.key, 'utf8').split('\n')[1]);
    reloader.close();
  });
});

describe('loadTlsPair', () => {
  it('throws TUNNEL_GATEWAY_TLS_INVALID for a missing file or a key that does not match', () => {
    const a = ca.issue('unit-load-a');
    const b = ca.issue('unit-load-b');
    expect(() => loadTlsPair({ cert: a.cert, key: path.join(ca.dir, 'nope.key') })).toThrow(expect.objectContaining({ code: 'TUNNEL_GATEWAY_TLS_INVALID' }));
    expect(() => loadTlsPair({ cert: a.cert, key: b.key })).toThrow(expect.objectContaining({ code: 'TUNNEL_GATEWAY_TLS_INVALID' }));
    expect(loadTlsPair(a).cert.length).toBeGreaterThan(0);
  });
});
