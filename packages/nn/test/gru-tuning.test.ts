/**
 * The GRU inference step's tuned crossover (src/rnn/gru-fast.ts): whichever step runs, fused
 * kernel or composed equations (forced in turn with gruTuning.path), a cell's and a sequence's
 * outputs agree within float32 rounding with the tape's composed equations, on every backend; and
 * on WebGPU, 'full' tuning times both steps for a new class, stores a valid choice per adapter
 * and uses it, without touching the global random stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, variable } from '@wgru/autograd';
import { GRU, GRUCell } from '@wgru/nn';
import { manualSeed, randn, setBackend, shutdown, tuning } from '@wgru/tensor';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';
import { matmulTuning } from '../../tensor/src/webgpu/kernels/matmul-plan.js';
import { gruTuning } from '../src/rnn/gru-fast.js';

const PATHS = ['fused', 'composed'] as const;

forEachBackend('GRU inference step, each path forced', (name) => {
  beforeAll(async () => {
    await setBackend(name, name === 'webgpu' ? { tuning: 'off' } : undefined);
  });
  afterAll(() => {
    gruTuning.path = 'auto';
  });

  it('fused and composed steps agree with the taped equations (batches across the crossover)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(3, 8, 64),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        async (B, H, resetAfter, seed) => {
          const cell = new GRUCell({ inputSize: 5, hiddenSize: H, resetAfter, seed });
          const gru = new GRU({ inputSize: 5, hiddenSize: H, resetAfter, seed });
          const x = variable(randn([B, 5], { seed: seed + 1 }));
          const h = variable(randn([B, H], { seed: seed + 2 }));
          const xs = variable(randn([3, B, 5], { seed: seed + 3 }));
          const taped = await cell.forward(x, h).data();
          const tapedSeq = await gru.forward(xs).output.data();
          for (const path of PATHS) {
            gruTuning.path = path;
            try {
              const got = await noGrad(() => cell.forward(x, h)).data();
              const seq = await noGrad(() => gru.forward(xs).output).data();
              // float32: both sides round differently (sums of H products); 2e-5 absolute is ample
              // for gates in (0, 1) and states in (-1, 1) (as in gru-fused.test.ts).
              for (let i = 0; i < taped.length; i++) expect(Math.abs(got[i] - taped[i]), path).toBeLessThan(2e-5);
              for (let i = 0; i < tapedSeq.length; i++) expect(Math.abs(seq[i] - tapedSeq[i]), path).toBeLessThan(2e-5);
            } finally {
              gruTuning.path = 'auto';
            }
          }
        },
      ),
      { seed: FC_SEED, numRuns: 6 },
    );
  });

  it.runIf(name === 'webgpu')(
    "'full' times both steps of a new class, stores the choice and leaves the random stream alone",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wgru-gru-tuning-'));
      const saved = { cache: process.env.WGRU_TUNING_CACHE, budget: process.env.WGRU_TUNING_BUDGET_MS };
      process.env.WGRU_TUNING_CACHE = join(dir, 'tuning.json');
      process.env.WGRU_TUNING_BUDGET_MS = '60000';
      try {
        shutdown(); // a fresh backend: an empty table
        await setBackend('webgpu', { tuning: 'full' });
        // Products keep their built-in plans (a forced family is not tuned): only the step is timed.
        matmulTuning.path = 'buffer';
        const cell = new GRUCell({ inputSize: 4, hiddenSize: 32, seed: 7 });
        const x = variable(randn([8, 4], { seed: 8 }));
        // The twin cell the tuner times is seeded: it draws nothing from the global stream.
        manualSeed(5);
        const first = await noGrad(() => cell.forward(x)).data();
        const t = await tuning();
        const drawn = Array.from(await randn([4]).data());
        manualSeed(5);
        expect(drawn).toEqual(Array.from(await randn([4]).data()));
        const c = t.table['gru|8|32|before'];
        expect(c && 'choice' in c ? c.choice : null).toMatch(/^(fused|composed)$/);
        expect(t.log.find((l) => l.shapeClass === 'gru|8|32|before')?.complete).toBe(true);
        // The stored choice runs now; the result agrees with the first (built-in) one.
        const again = await noGrad(() => cell.forward(x)).data();
        for (let i = 0; i < first.length; i++) expect(Math.abs(again[i] - first[i])).toBeLessThan(2e-5);
      } finally {
        matmulTuning.path = 'auto';
        for (const [k, v] of Object.entries({ WGRU_TUNING_CACHE: saved.cache, WGRU_TUNING_BUDGET_MS: saved.budget }))
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        shutdown();
        await setBackend('webgpu', { tuning: 'off' });
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
