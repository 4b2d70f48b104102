import { noGrad, variable } from '@wgru/autograd';
import { GRU, GRUCell } from '@wgru/nn';
import { engineStats, gruCell, randn, setBackend } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';

// The fused inference kernel must agree with the composed, differentiable GRUCell (its oracle).
forEachBackend('fused GRU cell', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('agrees with the composed cell (both reset placements, with and without W)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(1, 3, 70, 130),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        async (B, I, H, resetAfter, seed) => {
          const cell = new GRUCell({ inputSize: I, hiddenSize: H, resetAfter, seed });
          const x = variable(randn([B, I], { seed: seed + 1 }));
          const h = variable(randn([B, H], { seed: seed + 2 }));
          const composed = await cell.forward(x, h).data(); // gradients on: the composed ops
          const fused = await gruCell({ x: x.value, W: cell.W.value, b: cell.b!.value, h: h.value, U: cell.U.value, c: cell.c?.value ?? null, resetAfter }).data();
          const viaNoGrad = await noGrad(() => cell.forward(x, h)).data();
          for (let i = 0; i < composed.length; i++) {
            // float32: both sides round differently (sums of H products); 1e-5 relative is ample.
            expect(Math.abs((fused[i] as number) - (composed[i] as number))).toBeLessThan(2e-5);
            expect(Math.abs((viaNoGrad[i] as number) - (composed[i] as number))).toBeLessThan(2e-5);
          }
        },
      ),
      { seed: FC_SEED, numRuns: 12 },
    );
  });

  it('runs a GRU over a sequence with one dispatch per step under noGrad', async () => {
    const gru = new GRU({ inputSize: 4, hiddenSize: 8, resetAfter: true, seed: 3 });
    const x = variable(randn([16, 2, 4], { seed: 9 }));
    const reference = await gru.forward(x).output.data();
    const before = engineStats();
    const { output } = noGrad(() => gru.forward(x));
    const values = await output.data();
    const dispatches = engineStats().dispatches - before.dispatches;
    // projection (matmul + bias) + 16 cell steps + stacking the outputs
    if (name === 'webgpu') expect(dispatches).toBeLessThanOrEqual(2 + 16 + 4);
    for (let i = 0; i < values.length; i++) expect(Math.abs((values[i] as number) - (reference[i] as number))).toBeLessThan(2e-5);
  });
});
