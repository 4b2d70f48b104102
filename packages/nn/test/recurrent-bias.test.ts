/**
 * `recurrentBias: true`: c [3H], one recurrent bias per gate (PyTorch's and Keras' reset_after
 * parametrization). (a) The importers keep both biases as they are, and the exporters give them
 * back bit for bit (random float32 values, ±0 and subnormals included). (b) Inference routes
 * around the fused kernel's c [H] (c_z, c_r added to the input side) and agrees with the composed
 * equations, fused (small batches) and composed (B > 4 on WebGPU) alike.
 */
import { noGrad, variable } from '@wgru/autograd';
import { randn, setBackend } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';
import type { ShapedArray } from '../src/importers/common.js';
import { fromKerasGRU, toKerasGRU } from '../src/importers/keras.js';
import { toOnnxGRUWeights } from '../src/importers/onnx.js';
import { fromPyTorchGRU, fromPyTorchGRUCell, toPyTorchGRU, toPyTorchGRUCell } from '../src/importers/pytorch.js';
import { GRU, GRUCell } from '../src/rnn/gru.js';

const BIG = Math.fround(1e30);
const floats = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, min: -BIG, max: BIG });
const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const data = (v: unknown) => (v instanceof Float32Array ? v : (v as ShapedArray<Float32Array>).data);

function expectSameDict(got: Record<string, unknown>, want: Record<string, unknown>, label: string): void {
  expect(Object.keys(got).sort(), label).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) expect(sameBits(data(got[k]), data(want[k])), `${label} '${k}'`).toBe(true);
}

/** A random PyTorch nn.GRU state dict (with biases) of L layers and D directions. */
const torchGru = (I: number, H: number, L: number, D: number) => {
  const keys: Array<[string, number[]]> = [];
  for (let k = 0; k < L; k++)
    for (let d = 0; d < D; d++) {
      const s = `_l${k}${d === 1 ? '_reverse' : ''}`;
      keys.push([`weight_ih${s}`, [3 * H, k === 0 ? I : D * H]], [`weight_hh${s}`, [3 * H, H]]);
      keys.push([`bias_ih${s}`, [3 * H]], [`bias_hh${s}`, [3 * H]]);
    }
  return fc
    .tuple(...keys.map(([, shape]) => floats(shape.reduce((a, b) => a * b, 1))))
    .map((arrays) => Object.fromEntries(keys.map(([k, shape], i) => [k, { shape, data: arrays[i] as Float32Array }])));
};

const sizes = fc.record({
  I: fc.integer({ min: 1, max: 4 }),
  H: fc.integer({ min: 1, max: 4 }),
  L: fc.integer({ min: 1, max: 2 }),
  D: fc.constantFrom(1, 2),
});

describe('recurrentBias: importers keep both biases, exporters give them back bit for bit', () => {
  it('PyTorch nn.GRU → wgru → PyTorch, and wgru → ONNX keeps bias_hh as Rb', () => {
    fc.assert(
      fc.property(
        sizes.chain((c) => fc.tuple(fc.constant(c), torchGru(c.I, c.H, c.L, c.D))),
        ([c, torch]) => {
          const opts = { inputSize: c.I, hiddenSize: c.H, numLayers: c.L, bidirectional: c.D === 2 };
          const seed = fromPyTorchGRU(torch, { ...opts, recurrentBias: true });
          expect(seed['l0.c']?.length).toBe(3 * c.H);
          const layout = { ...opts, resetAfter: true, recurrentBias: true };
          expectSameDict(toPyTorchGRU(seed, layout), torch, 'torch');
          // ONNX: B = [Wb | Rb] with Rb = PyTorch's bias_hh, reordered r | z | n → z | r | h.
          const onnx = toOnnxGRUWeights(seed, { ...layout, layer: 0 });
          const H = c.H;
          const bhh = torch.bias_hh_l0?.data as Float32Array;
          const rb = (onnx.B as ShapedArray<Float32Array>).data.subarray(3 * H, 6 * H);
          const want = Float32Array.from([...bhh.subarray(H, 2 * H), ...bhh.subarray(0, H), ...bhh.subarray(2 * H)]);
          expect(sameBits(rb, want)).toBe(true);
        },
      ),
      { seed: FC_SEED, numRuns: 40 },
    );
  });

  it('PyTorch nn.GRUCell and Keras reset_after=True, both ways', () => {
    fc.assert(
      fc.property(
        fc
          .record({ I: fc.integer({ min: 1, max: 4 }), H: fc.integer({ min: 1, max: 4 }) })
          .chain((c) => fc.tuple(fc.constant(c), torchGru(c.I, c.H, 1, 1), floats(6 * c.H))),
        ([{ I, H }, t, kerasBias]) => {
          const cellState = {
            weight_ih: t.weight_ih_l0,
            weight_hh: t.weight_hh_l0,
            bias_ih: t.bias_ih_l0,
            bias_hh: t.bias_hh_l0,
          } as Record<string, ShapedArray<Float32Array>>;
          const cell = fromPyTorchGRUCell(cellState, { inputSize: I, hiddenSize: H, recurrentBias: true });
          const layout = { inputSize: I, hiddenSize: H, resetAfter: true, recurrentBias: true };
          expectSameDict(toPyTorchGRUCell(cell, layout), cellState, 'cell');
          const kernel = { shape: [I, 3 * H], data: t.weight_ih_l0?.data as Float32Array };
          const rec = { shape: [H, 3 * H], data: t.weight_hh_l0?.data.subarray(0, 3 * H * H) as Float32Array };
          const bias = { shape: [2, 3 * H], data: kerasBias };
          const seed = fromKerasGRU([kernel, rec, bias], { inputSize: I, hiddenSize: H, recurrentBias: true });
          expect(seed['l0.c']?.length).toBe(3 * H);
          const back = toKerasGRU(seed, { ...layout, prefix: 'l0.' });
          expectSameDict({ k: back[0], r: back[1], b: back[2] }, { k: kernel, r: rec, b: bias }, 'keras');
        },
      ),
      { seed: FC_SEED, numRuns: 40 },
    );
  });

  it('refuses recurrentBias where it has no meaning', () => {
    const w = (n: number) => new Float32Array(n);
    expect(() => fromKerasGRU([w(6), w(6), w(6)], { inputSize: 1, hiddenSize: 2, recurrentBias: true })).toThrow(
      /fromKerasGRU: recurrentBias: true needs resetAfter: true/,
    );
    expect(() =>
      toPyTorchGRU({}, { inputSize: 1, hiddenSize: 1, resetAfter: true, recurrentBias: 'yes' as never }),
    ).toThrow(/toPyTorchGRU: recurrentBias must be true or false/);
    // A truthy non-boolean would silently pick the reset-after placement.
    expect(() => new GRU({ inputSize: 1, hiddenSize: 2, resetAfter: 'true' as never })).toThrow(
      /^GRU: resetAfter must be true or false, got true/,
    );
    expect(() => new GRUCell({ inputSize: 1, hiddenSize: 2, resetAfter: 1 as never })).toThrow(
      /^GRUCell: resetAfter must be true or false, got 1/,
    );
  });
});

forEachBackend('recurrentBias: inference routes around the fused kernel and agrees', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('GRUCell and GRU: no tape (fused, or composed past B = 4 on WebGPU) equals the taped equations', async () => {
    for (const B of [2, 7]) {
      const cell = new GRUCell({ inputSize: 3, hiddenSize: 8, resetAfter: true, recurrentBias: true, seed: B });
      const x = variable(randn([B, 3], { seed: 1 }));
      const h = variable(randn([B, 8], { seed: 2 }));
      const taped = await cell.forward(x, h).data();
      const untaped = await noGrad(() => cell.forward(x, h)).data();
      for (let i = 0; i < taped.length; i++) expect(Math.abs(untaped[i] - taped[i]), `cell B=${B}`).toBeLessThan(2e-5);
      const gru = new GRU({
        inputSize: 3,
        hiddenSize: 8,
        numLayers: 2,
        resetAfter: true,
        recurrentBias: true,
        seed: B,
      });
      const xs = variable(randn([4, B, 3], { seed: 3 }));
      const seqTaped = await gru.forward(xs).output.data();
      const seqUntaped = await noGrad(() => gru.forward(xs).output).data();
      for (let i = 0; i < seqTaped.length; i++)
        expect(Math.abs(seqUntaped[i] - seqTaped[i]), `GRU B=${B}`).toBeLessThan(2e-5);
    }
  });
});
