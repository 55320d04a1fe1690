import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Subject } from 'rxjs';
import { reloadSignals$, startGatewayReloads } from '../../../src/cli/reload';
import { loadGatewayConfig, type GatewayConfig } from '../../../src/config';
import { createLogger } from '../../../src/log';
import { Capture } from './fake-io';

const SECRET = 'a-secret-of-at-least-32-bytes-0123456789';
const NEXT = 'another-secret-of-32-bytes-or-more-98765';

describe('reloadSignals$', () => {
  it('emits SIGHUP and removes its listener on unsubscribe', () => {
    const proc = new EventEmitter();
    const seen: string[] = [];
    const sub = reloadSignals$(proc).subscribe((s) => seen.push(s));
    expect(proc.listenerCount('SIGHUP')).toBe(1);
    proc.emit('SIGHUP');
    expect(seen).toEqual(['SIGHUP']);
    sub.unsubscribe();
    expect(proc.listenerCount('SIGHUP')).toBe(0);
  });
});

describe('startGatewayReloads', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-reload-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const body = (secrets: unknown): string => JSON.stringify({ tunnels: [{ id: 'corp', secrets }] });

  it('applies a valid file on SIGHUP and keeps the running configuration when the file is invalid', () => {
    const file = path.join(dir, 'gateway.json');
    fs.writeFileSync(file, body([SECRET]));
    const initial = loadGatewayConfig({ file, env: {} });
    const applied: GatewayConfig[] = [];
    const logs = new Capture();
    const sighup = new Subject<'SIGHUP'>();
    // A debounce far beyond the test: only SIGHUP triggers here.
    const sub = startGatewayReloads({ file, env: {}, signals$: sighup, reload: (c) => applied.push(c), initial, logger: createLogger({ destination: logs }), debounceMs: 60_000 });
    fs.writeFileSync(file, body(['short']));
    sighup.next('SIGHUP');
    expect(applied).toEqual([]);
    const failed = logs.json().find((l) => l.msg === 'configuration reload failed; keeping the running configuration');
    expect(failed).toMatchObject({ level: 50, code: 'TUNNEL_CONFIG_INVALID', trigger: 'SIGHUP' });
    expect(logs.text).not.toContain(SECRET);
    fs.writeFileSync(file, body([NEXT, SECRET]));
    sighup.next('SIGHUP');
    expect(applied.map((c) => c.tunnels[0]?.secrets)).toEqual([[NEXT, SECRET]]);
    sub.unsubscribe();
    expect(sighup.observed).toBe(false);
  });
});
