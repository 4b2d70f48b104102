/**
 * The autotuner's families besides matmul (src/webgpu/kernels/tuned-choices.ts): every workgroup
 * size of the fused elementwise kernels gives the same result bit for bit (forced in turn, against
 * the float64 oracle too); 'full' times an elementwise class and a reduction class within its
 * budget, stores valid choices and uses them; 'cached' runs a stored choice. Both reduction
 * strategies, forced in turn, are checked against the oracle in reduce.property.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { add, backend, exp, mul, ones, setBackend, shutdown, sum, tanh, transpose, tuning } from '@wgru/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reduceTuning } from '../src/webgpu/kernels/reduce.js';
import { elementwiseTuning } from '../src/webgpu/kernels/tuned-choices.js';
import { ELEMENTWISE_CHOICES } from '../src/webgpu/kernels/tuner.js';
import { adapterKey } from '../src/webgpu/tuning-cache.js';
import { temporaryTuningCache, restoreEnv } from './tuning-support.js';
import { DUT_NAME, deviceUnderTest, expectClose, FC_SEED, f32, onDut, onOracle, withBag } from './property-support.js';

const { dir: cacheDir, saved } = temporaryTuningCache('wgru-kernel-tuning-', () => {
  elementwiseTuning.workgroup = null;
  elementwiseTuning.onChoice = null;
  reduceTuning.onKernel = null;
});

const lanesOf = (c: string) => Number(c.slice(3));

describe.runIf(DUT_NAME === 'webgpu')('elementwise and reduction tuning', () => {
  it('every elementwise workgroup size gives the same result, bit for bit, within float32 rounding of the oracle', async () => {
    await setBackend('webgpu', { tuning: 'off' });
    const dut = await deviceUnderTest();
    const maxLanes = (dut as unknown as { device: GPUDevice }).device.limits.maxComputeInvocationsPerWorkgroup;
    const sizes = ELEMENTWISE_CHOICES.map(lanesOf).filter((w) => w <= maxLanes);
    // Rows and columns of any size (a partial last workgroup), B read transposed (strided loads).
    const operands = fc
      .record({ rows: fc.integer({ min: 1, max: 70 }), cols: fc.integer({ min: 1, max: 90 }) })
      .chain((s) =>
        fc.record({
          s: fc.constant(s),
          a: fc.array(f32(-2, 2), { minLength: s.rows * s.cols, maxLength: s.rows * s.cols }),
          b: fc.array(f32(-2, 2), { minLength: s.rows * s.cols, maxLength: s.rows * s.cols }),
        }),
      );
    const seen: number[] = [];
    elementwiseTuning.onChoice = (w) => seen.push(w);
    try {
      await fc.assert(
        fc.asyncProperty(operands, ({ s, a, b }) =>
          withBag(async (bag) => {
            const f = (x: typeof xa, y: typeof xa) => tanh(add(mul(x, transpose(y)), exp(x)));
            const xa = bag.add(onDut(dut, a, [s.rows, s.cols]));
            const xb = bag.add(onDut(dut, b, [s.cols, s.rows]));
            const ref = bag.add(f(bag.add(onOracle(a, [s.rows, s.cols])), bag.add(onOracle(b, [s.cols, s.rows]))));
            let first: number[] | null = null;
            for (const wg of sizes) {
              elementwiseTuning.workgroup = wg;
              const out = bag.add(f(xa, xb));
              const got = Array.from(await out.data());
              first ??= got;
              expect(got, `workgroup ${wg}, ${JSON.stringify(s)}`).toEqual(first);
              // tanh(a b + e^a): a few roundings, each within half an ulp of a value of size <= 1.
              await expectClose(`workgroup ${wg}`, out, ref, { atol: 2 ** -20, rtol: 2 ** -20 });
            }
          }),
        ),
        { seed: FC_SEED, numRuns: 6 },
      );
    } finally {
      elementwiseTuning.workgroup = null;
      elementwiseTuning.onChoice = null;
    }
    expect(new Set(seen)).toEqual(new Set(sizes));
  });

  it("'full' times an elementwise class and a reduction class, stores valid choices and uses them", async () => {
    process.env.WGRU_TUNING_BUDGET_MS = '60000';
    await setBackend('webgpu', { tuning: 'full' });
    const n = 1 << 16;
    const x = ones([n]);
    try {
      // One fused kernel of 2^16 elements, then a sum of all of them (one output).
      const y = add(mul(x, 2), 1);
      expect(Array.from(await sum(y).data())).toEqual([3 * n]);
      const t = await tuning();
      const ew = t.table[`elementwise|${n}`];
      const red = t.table[`reduce|1|${n}|c`];
      expect(ew && 'choice' in ew && ELEMENTWISE_CHOICES.includes(ew.choice as never)).toBe(true);
      expect(red && 'choice' in red && ['lane', 'workgroup'].includes(red.choice)).toBe(true);
      expect(t.log.filter((l) => !l.shapeClass.includes('|B ')).every((l) => l.complete)).toBe(true);
      const adapter = backend().adapter;
      if (!adapter) throw new Error('a WebGPU backend without adapter info');
      const stored = JSON.parse(readFileSync(join(cacheDir, 'tuning.json'), 'utf8'));
      expect(stored[adapterKey(adapter)]).toEqual(t.table);
      // The next kernels of the classes run the stored choices, with the same results.
      const lanes: number[] = [];
      const kernels: string[] = [];
      elementwiseTuning.onChoice = (w) => lanes.push(w);
      reduceTuning.onKernel = (k) => kernels.push(k);
      const y2 = add(mul(x, 2), 1);
      expect(Array.from(await sum(y2).data())).toEqual([3 * n]);
      expect(lanes).toEqual([lanesOf(ew && 'choice' in ew ? ew.choice : '')]);
      expect(kernels.map((k) => (k.startsWith('reduceWg') ? 'workgroup' : 'lane'))).toEqual([
        red && 'choice' in red ? red.choice : '',
      ]);
    } finally {
      elementwiseTuning.onChoice = null;
      reduceTuning.onKernel = null;
      x.dispose();
      restoreEnv('WGRU_TUNING_BUDGET_MS', saved.budget);
    }
  });

  it("'cached' runs the stored workgroup size and reduction strategy, and times nothing (a fresh backend)", async () => {
    const adapter = backend().adapter;
    if (!adapter) throw new Error('a WebGPU backend without adapter info');
    const file = join(cacheDir, 'cached.json');
    const n = 1 << 17;
    // The built-in choices here would be 64 lanes and a workgroup for the sum (one output).
    const table = {
      [`elementwise|${n}`]: { choice: 'wg 128', ms: 1, heuristicMs: 2 },
      [`reduce|1|${n}|c`]: { choice: 'lane', ms: 1, heuristicMs: 2 },
    };
    writeFileSync(file, JSON.stringify({ [adapterKey(adapter)]: table }));
    process.env.WGRU_TUNING_CACHE = file;
    process.env.WGRU_TUNING = 'cached';
    const lanes: number[] = [];
    const kernels: string[] = [];
    elementwiseTuning.onChoice = (w) => lanes.push(w);
    reduceTuning.onKernel = (k) => kernels.push(k);
    try {
      shutdown(); // a fresh backend reads the stored table
      await setBackend('webgpu');
      const x = ones([n]);
      expect(Array.from(await sum(add(x, x)).data())).toEqual([2 * n]);
      x.dispose();
      const t = await tuning();
      expect({ lanes, kernels: kernels.map((k) => k.split('|')[0]), mode: t.mode, spentMs: t.spentMs }).toEqual({
        lanes: [128],
        kernels: ['reduce'],
        mode: 'cached',
        spentMs: 0,
      });
    } finally {
      elementwiseTuning.onChoice = null;
      reduceTuning.onKernel = null;
      process.env.WGRU_TUNING = 'off';
      process.env.WGRU_TUNING_CACHE = join(cacheDir, 'tuning.json');
    }
  });
});
