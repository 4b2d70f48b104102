import { noGrad, variable } from '@wgru/autograd';
import { GRU, GRUCell } from '@wgru/nn';
import {
  add,
  addInto,
  engineStats,
  flush,
  gruCell,
  matmul,
  mul,
  randn,
  setBackend,
  type Tensor,
  transpose,
} from '@wgru/tensor';
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
        // 4, 8, 64, 132, 256: the vec4 (quad) kernel; 1, 3, 70: the scalar one
        fc.constantFrom(1, 3, 4, 8, 64, 70, 132, 256),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        async (B, I, H, resetAfter, seed) => {
          const cell = new GRUCell({ inputSize: I, hiddenSize: H, resetAfter, seed });
          const x = variable(randn([B, I], { seed: seed + 1 }));
          const h = variable(randn([B, H], { seed: seed + 2 }));
          const composed = await cell.forward(x, h).data(); // gradients on: the composed ops
          const fused = await gruCell({
            x: x.value,
            W: cell.W.value,
            b: cell.b!.value,
            h: h.value,
            U: cell.U.value,
            c: cell.c?.value ?? null,
            resetAfter,
          }).data();
          const viaNoGrad = await noGrad(() => cell.forward(x, h)).data();
          for (let i = 0; i < composed.length; i++) {
            // float32: both sides round differently (sums of H products); 1e-5 relative is ample.
            expect(Math.abs(fused[i] - composed[i])).toBeLessThan(2e-5);
            expect(Math.abs(viaNoGrad[i] - composed[i])).toBeLessThan(2e-5);
          }
        },
      ),
      { seed: FC_SEED, numRuns: 16 },
    );
  });

  it('agrees with a float64 reference given the projection, strided weights, no bias, large pre-activations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(4, 12, 68),
        fc.boolean(),
        fc.constantFrom('projection', 'transposed W', 'no bias', 'large'),
        fc.integer({ min: 0, max: 1000 }),
        async (B, H, resetAfter, variant, seed) => {
          const I = 5;
          const scale = variant === 'large' ? 40 : 1;
          const x = mul(randn([B, I], { seed: seed + 1 }), scale);
          const h = randn([B, H], { seed: seed + 2 });
          // W as the transpose of a [3H, I] matrix: a column-major view (the scalar kernel's case)
          const W = variant === 'transposed W' ? transpose(randn([3 * H, I], { seed })) : randn([I, 3 * H], { seed });
          const U = randn([H, 3 * H], { seed: seed + 3 });
          const b = variant === 'no bias' ? null : randn([3 * H], { seed: seed + 4 });
          const c = resetAfter ? randn([H], { seed: seed + 5 }) : null;
          const want = await gruCellReference(x, W, b, h, U, c, resetAfter);
          const got =
            variant === 'projection'
              ? await gruCell({ x: b ? add(matmul(x, W), b) : matmul(x, W), h, U, c, resetAfter }).data()
              : await gruCell({ x, W, b, h, U, c, resetAfter }).data();
          for (let i = 0; i < want.length; i++) {
            expect(Number.isFinite(got[i])).toBe(true);
            // float32 against float64; the pre-activations grow with x (scale 40 for 'large'),
            // and so does the rounding of x W before the saturating σ and tanh
            expect(Math.abs(got[i] - want[i])).toBeLessThan(2e-5 * scale);
          }
        },
      ),
      { seed: FC_SEED, numRuns: 16 },
    );
  });

  it('a generation loop: the same answers step after step, weights packed once (WebGPU), re-read after an update', async () => {
    for (const resetAfter of [true, false]) {
      const cell = new GRUCell({ inputSize: 8, hiddenSize: 16, resetAfter, seed: 11 });
      let h = variable(randn([1, 16], { seed: 12 }));
      const counts: number[] = [];
      for (let step = 0; step < 5; step++) {
        if (step === 3) addInto(cell.U.value, 0.25); // an optimizer's in-place update, between steps
        const x = variable(randn([1, 8], { seed: 20 + step }));
        const want = await cell.forward(x, h).data(); // the composed cell (gradients on)
        const before = engineStats().dispatches;
        const next = noGrad(() => cell.forward(x, h));
        flush();
        counts.push(engineStats().dispatches - before);
        const got = await next.data();
        for (let i = 0; i < want.length; i++)
          expect(Math.abs(got[i] - want[i]), `step ${step}, resetAfter ${resetAfter}`).toBeLessThan(2e-5);
        h = next;
      }
      // 1 kernel a step; weights are packed at their second use (U and W: 2 more kernels), U
      // again at its second use after the update. With resetAfter the composed forward before
      // each step multiplies by the whole of U and W, and counts as their first use; without, it
      // multiplies by slices of U (other operands), so the fused steps' own uses count.
      if (name === 'webgpu')
        expect(counts, `resetAfter ${resetAfter}`).toEqual(resetAfter ? [3, 1, 1, 2, 1] : [1, 3, 1, 1, 2]);
    }
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
    for (let i = 0; i < values.length; i++) expect(Math.abs(values[i] - reference[i])).toBeLessThan(2e-5);
  });
});

/** The cell's equations in float64 on the host, from the tensors' values. */
async function gruCellReference(
  xT: Tensor,
  WT: Tensor,
  bT: Tensor | null,
  hT: Tensor,
  UT: Tensor,
  cT: Tensor | null,
  resetAfter: boolean,
): Promise<Float64Array> {
  const [B, I] = xT.shape as [number, number];
  const H = hT.shape[1];
  const [x, W, h, U] = await Promise.all([xT.data(), WT.data(), hT.data(), UT.data()]);
  const b = bT ? await bT.data() : new Float32Array(3 * H);
  const c = cT ? await cT.data() : new Float32Array(H);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(B * H);
  for (let r = 0; r < B; r++) {
    const xw = (col: number) => {
      let s = b[col];
      for (let i = 0; i < I; i++) s += x[r * I + i] * W[i * 3 * H + col];
      return s;
    };
    const hu = (v: (k: number) => number, col: number) => {
      let s = 0;
      for (let k = 0; k < H; k++) s += v(k) * U[k * 3 * H + col];
      return s;
    };
    const hk = (k: number) => h[r * H + k];
    const rGate = (j: number) => sig(xw(H + j) + hu(hk, H + j));
    for (let j = 0; j < H; j++) {
      // z = σ(x W_z + h U_z + b_z), r = σ(x W_r + h U_r + b_r)
      const z = sig(xw(j) + hu(hk, j));
      // h̃ = tanh(x W_h + b_h + r ⊙ (h U_h + c))  or  tanh(x W_h + (r ⊙ h) U_h + b_h)
      const cand = resetAfter
        ? Math.tanh(xw(2 * H + j) + rGate(j) * (hu(hk, 2 * H + j) + c[j]))
        : Math.tanh(xw(2 * H + j) + hu((k) => rGate(k) * hk(k), 2 * H + j));
      // h' = (1 − z) ⊙ h + z ⊙ h̃
      out[r * H + j] = (1 - z) * hk(j) + z * cand;
    }
  }
  return out;
}
