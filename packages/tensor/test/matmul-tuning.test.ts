/**
 * The matmul autotuner (src/webgpu/kernels/matmul-tuner.ts): every candidate plan gives the same
 * result, bit for bit, and agrees with the float64 oracle; 'full' tuning fills the table within
 * its budget and stores it; a spent budget times nothing; bad modes are named; 'cached' uses a
 * stored table and times nothing. Speed itself belongs to `pnpm bench --only=tuning`, not here.
 *
 * The property's shapes are chosen so that each candidate compiles one kernel for all of them
 * (M and N in (32, 64], or M <= 4; K and N multiples of 4; row-major): workgroup shapes and load
 * modes are then the same whatever the sizes, and the run costs a dozen compiles, not hundreds.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backend, matmul, ones, setBackend, shutdown, tuning } from '@wgru/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matmulTuning } from '../src/webgpu/kernels/matmul-plan.js';
import { adapterKey } from '../src/webgpu/tuning-cache.js';
import {
  DUT_NAME,
  deviceUnderTest,
  expectClose,
  FC_SEED,
  f32,
  onDut,
  onOracle,
  oracle,
  withBag,
} from './property-support.js';
import { restoreEnv, temporaryTuningCache } from './tuning-support.js';

const { dir: cacheDir, saved } = temporaryTuningCache('wgru-tuning-');

const size = (n: number) => fc.integer({ min: 1, max: n / 4 }).map((x) => 4 * x);

describe.runIf(DUT_NAME === 'webgpu')('matmul tuning', () => {
  it('every candidate plan (both families, each tile) gives the same result, bit for bit, within float32 rounding of the oracle', async () => {
    await setBackend('webgpu', { tuning: 'off' });
    const dut = await deviceUnderTest();
    const shapes = fc.record({
      m: fc.oneof(fc.integer({ min: 3, max: 4 }), fc.integer({ min: 33, max: 64 })),
      k: size(32),
      n: fc.integer({ min: 9, max: 16 }).map((x) => 4 * x),
    });
    const operands = shapes.chain((s) =>
      fc.record({
        s: fc.constant(s),
        a: fc.array(f32(-1, 1), { minLength: s.m * s.k, maxLength: s.m * s.k }),
        b: fc.array(f32(-1, 1), { minLength: s.k * s.n, maxLength: s.k * s.n }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(operands, ({ s, a, b }) =>
        withBag(async (bag) => {
          const x = bag.add(onDut(dut, a, [s.m, s.k]));
          const y = bag.add(onDut(dut, b, [s.k, s.n]));
          const ref = bag.add(matmul(bag.add(onOracle(a, [s.m, s.k])), bag.add(onOracle(b, [s.k, s.n]))));
          expect(ref.backend).toBe(oracle);
          const plans: string[] = [];
          matmulTuning.onPlan = (p) => plans.push(`${p.path} ${p.TM}x${p.TN}`);
          let first: number[] | null = null;
          try {
            // The candidates number at most 8: forcing 0..7 runs each (modulo their count).
            for (let i = 0; i < 8; i++) {
              matmulTuning.candidate = i;
              const out = bag.add(matmul(x, y));
              const got = Array.from(await out.data());
              first ??= got;
              expect(got, `${JSON.stringify(s)}: ${plans.join(', ')}`).toEqual(first);
              // |error| <= k ulp of the sum of |a||b| (each product and each addition rounds once);
              // a and b lie in [-1, 1], so that sum is at most k: the bound below is k ulp of k.
              await expectClose(`matmul ${plans.at(-1)}`, out, ref, { atol: s.k * 2 ** -23 * s.k, rtol: 0 });
            }
          } finally {
            matmulTuning.onPlan = null;
            matmulTuning.candidate = null;
          }
          expect(new Set(plans).size).toBeGreaterThanOrEqual(3);
        }),
      ),
      { seed: FC_SEED, numRuns: 4 },
    );
  });

  it("'full' times the candidates of a new shape class within the budget and stores the fastest", async () => {
    process.env.WGRU_TUNING_BUDGET_MS = '30000';
    const dut = await deviceUnderTest();
    await setBackend('webgpu', { tuning: 'full' });
    const a = onDut(dut, new Array(40 * 32).fill(0.5), [40, 32]);
    const b = onDut(dut, new Array(32 * 48).fill(0.25), [32, 48]);
    const plans: string[] = [];
    matmulTuning.onPlan = (p) => plans.push(`${p.path} ${p.TM}x${p.TN}`);
    try {
      await matmul(a, b).data();
      const t = await tuning();
      const [key] = Object.keys(t.table);
      expect(key).toBe('f32|B once|nn|64x32x64');
      expect(t.log[0].complete).toBe(true);
      expect(t.log[0].candidates.length).toBe(8);
      expect(t.spentMs).toBeGreaterThan(0);
      // The next product of the class runs the stored plan (a new B: a reused one is another class).
      const b2 = onDut(dut, new Array(32 * 48).fill(0.25), [32, 48]);
      const out = await matmul(a, b2).data();
      b2.dispose();
      expect(Array.from(out)).toEqual(new Array(40 * 48).fill(4));
      const c = t.table[key];
      expect(plans.at(-1)).toBe('path' in c ? `${c.path} ${c.TM}x${c.TN}` : 'not a matmul plan');
      const adapter = backend().adapter;
      if (!adapter) throw new Error('a WebGPU backend without adapter info');
      const stored = JSON.parse(readFileSync(join(cacheDir, 'tuning.json'), 'utf8'));
      expect(stored[adapterKey(adapter)]).toEqual(t.table);
    } finally {
      matmulTuning.onPlan = null;
      a.dispose();
      b.dispose();
      restoreEnv('WGRU_TUNING_BUDGET_MS', saved.budget);
    }
  });

  it("'full' with its budget spent times nothing and keeps the built-in plan", async () => {
    process.env.WGRU_TUNING_BUDGET_MS = '0';
    const dut = await deviceUnderTest();
    await setBackend('webgpu', { tuning: 'full' });
    const before = await tuning();
    const a = onDut(dut, new Array(20 * 8).fill(1), [20, 8]);
    const b = onDut(dut, new Array(8 * 12).fill(1), [8, 12]);
    try {
      await matmul(a, b).data();
      const after = await tuning();
      expect(after.budgetMs).toBe(0);
      expect(after.spentMs).toBe(before.spentMs);
      expect(after.table).toEqual(before.table);
      expect(after.log.length).toBe(before.log.length);
    } finally {
      a.dispose();
      b.dispose();
      restoreEnv('WGRU_TUNING_BUDGET_MS', saved.budget);
    }
  });

  it('names a bad tuning mode, from setBackend and from WGRU_TUNING', async () => {
    await expect(setBackend('webgpu', { tuning: 'fast' as never })).rejects.toThrow(
      `setBackend: option 'tuning' must be one of off, cached, full, got "fast"`,
    );
    process.env.WGRU_TUNING = 'always';
    try {
      await expect(setBackend('webgpu')).rejects.toThrow("WGRU_TUNING must be one of off, cached, full, got 'always'");
    } finally {
      delete process.env.WGRU_TUNING;
    }
  });
  it("'cached' (WGRU_TUNING) uses a stored table and times nothing (a fresh backend)", async () => {
    const adapter = backend().adapter;
    if (!adapter) throw new Error('a WebGPU backend without adapter info');
    const file = join(cacheDir, 'cached.json');
    const table = { 'f32|B once|nn|64x64x64': { path: 'buffer', TM: 4, TN: 2, ms: 1, heuristicMs: 2 } };
    writeFileSync(file, JSON.stringify({ [adapterKey(adapter)]: table }));
    process.env.WGRU_TUNING_CACHE = file;
    process.env.WGRU_TUNING = 'cached';
    const plans: string[] = [];
    matmulTuning.onPlan = (p) => plans.push(`${p.path} ${p.TM}x${p.TN}`);
    try {
      shutdown(); // a fresh backend reads the stored table
      await setBackend('webgpu');
      await matmul(ones([64, 64]), ones([64, 64])).data();
      await matmul(ones([20, 8]), ones([8, 12])).data();
      const t = await tuning();
      // The stored plan for its class; the built-in plan for a class the table lacks.
      expect({ plans, mode: t.mode, spentMs: t.spentMs, table: t.table }).toEqual({
        plans: ['buffer 4x2', 'buffer 8x1'],
        mode: 'cached',
        spentMs: 0,
        table,
      });
    } finally {
      matmulTuning.onPlan = null;
      process.env.WGRU_TUNING = 'off';
      process.env.WGRU_TUNING_CACHE = join(cacheDir, 'tuning.json');
    }
  });
});
