/**
 * Differential property test (issue 8): for every generated request variant, what the upstream (the
 * official SDK's express app) executed equals what the policy allowed and what the audit recorded.
 * One property per family of variants, so a failure names the reading that differs; the known
 * attacks of the issue run first as named tests and as explicit examples. Fixed seed, bounded runs,
 * no sleeps.
 */
import fc from 'fast-check';
import { Resources } from '../../helpers';
import { ATTACKS, SIZE_GRID } from './attacks';
import { startDifferential } from './harness';
import { assertConsistent } from './properties';
import { FAMILIES, type Variant } from './variants';

const res = new Resources();
afterEach(() => res.closeAll());

type Family = keyof typeof FAMILIES;
const families = Object.keys(FAMILIES) as Family[];
/** Runs per family; size variants are up to ~100 KiB each, so fewer. */
const RUNS: Record<Family, number> = { charset: 40, encoding: 25, json: 40, paths: 40, sessions: 40, methods: 20, sizes: 20, mixed: 60 };
const SEED = 0x18e7;

const attacks: Array<[string, Variant]> = families.flatMap((f) => Object.entries<Variant>(ATTACKS[f]));

describe('differential: known attacks of issue 8', () => {
  it.each(attacks)('%s', async (_name, variant) => {
    const d = await startDifferential(res);
    assertConsistent(await d.run(variant), d.owners);
  });
});

describe('differential: the upstream executes exactly what the gateway checked and recorded', () => {
  it.each(families)('%s variants', async (family) => {
    const d = await startDifferential(res);
    const examples = [...Object.values(ATTACKS[family]), ...(family === 'sizes' ? SIZE_GRID : [])].map((v): [Variant] => [v]);
    let executing = 0;
    await fc.assert(
      fc.asyncProperty(FAMILIES[family], async (v) => {
        const o = await d.run(v);
        if (o.executed.length > 0) executing++;
        assertConsistent(o, d.owners);
      }),
      { seed: SEED, numRuns: RUNS[family], examples, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false },
    );
    // A harness in which nothing reaches the upstream would pass vacuously.
    expect(executing).toBeGreaterThan(0);
  }, 60_000);
});
