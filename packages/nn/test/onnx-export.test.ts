/**
 * exportOnnx, checked by ONNX Runtime itself (onnxruntime-web, wasm, in this process): exported
 * models run there at other batch sizes and sequence lengths than the traced ones and agree with
 * wgru's own outputs within 1e-5, on every backend. Also: fromOnnxGRU reads the exported GRU
 * nodes back bit for bit, and bad input throws before anything is written.
 */
import { concat, noGrad, traced, type Variable, variable, where } from '@wgru/autograd';
import { randn, reshape, setBackend, type Tensor, tensor } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import { fromOnnxGRU } from '../src/importers/onnx.js';
import { Dropout, LogSoftmax, Softmax } from '../src/layers/activation.js';
import { Embedding } from '../src/layers/embedding.js';
import { Linear } from '../src/layers/linear.js';
import { exportOnnx } from '../src/onnx/export.js';
import { readOnnxModel } from '../src/onnx/read.js';
import { GRU } from '../src/rnn/gru.js';
import { LSTM } from '../src/rnn/lstm.js';
import { RNN } from '../src/rnn/rnn.js';
import { runOnnx } from './ort-runtime.js';

const TOL = 1e-5;

/** Token ids [T, B] in [0, vocab), deterministic. */
function ids(T: number, B: number, vocab: number, salt: number): Int32Array {
  return Int32Array.from({ length: T * B }, (_, i) => (i * 7 + salt * 3 + ((i * i) % 5)) % vocab);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** wgru's outputs of `forward` on `inputs`, as host arrays. */
async function wgruOutputs(forward: () => Variable | Variable[]): Promise<Float32Array[]> {
  const out = noGrad(forward);
  const list = Array.isArray(out) ? out : [out];
  return Promise.all(list.map(async (v) => Float32Array.from(await v.data())));
}

forEachBackend('exportOnnx runs in ONNX Runtime', (backend) => {
  beforeAll(async () => {
    await setBackend(backend);
  });

  const variants = [
    { resetAfter: false, recurrentBias: false },
    { resetAfter: true, recurrentBias: false },
    { resetAfter: true, recurrentBias: true },
  ];
  for (const { resetAfter, recurrentBias } of variants) {
    const title = `resetAfter ${resetAfter}${recurrentBias ? ', recurrentBias' : ''}`;
    it(`Embedding → GRU (2 layers, bidirectional, ${title}) → Linear → LogSoftmax`, async () => {
      const [V, E, H] = [11, 6, 5];
      const embed = new Embedding(V, E, { seed: 1 });
      const gru = new GRU({
        inputSize: E,
        hiddenSize: H,
        numLayers: 2,
        bidirectional: true,
        resetAfter,
        ...(recurrentBias ? { recurrentBias } : {}),
        seed: 2,
      });
      const head = new Linear(2 * H, V, { seed: 3 });
      const logSoftmax = new LogSoftmax(-1);
      const forward = (x: Tensor): Variable[] => {
        const { output, hN } = gru.forward(embed.forward(x));
        return [logSoftmax.forward(head.forward(output)), hN];
      };
      const traceIds = tensor(ids(5, 3, V, 0), [5, 3], 'int32');
      const bytes = await exportOnnx(forward, [traceIds], {
        inputNames: ['ids'],
        outputNames: ['logp', 'hN'],
      });
      // Other sizes than the traced ones: T = 7, B = 2.
      const runIds = ids(7, 2, V, 1);
      const ort = await runOnnx(bytes, { ids: { dims: [7, 2], data: runIds } });
      const [logp, hN] = await wgruOutputs(() => forward(tensor(runIds, [7, 2], 'int32')));
      expect(ort.logp?.dims).toEqual([7, 2, V]);
      expect(ort.hN?.dims).toEqual([4, 2, H]);
      expect(maxDiff(ort.logp?.data as Float32Array, logp as Float32Array)).toBeLessThan(TOL);
      expect(maxDiff(ort.hN?.data as Float32Array, hN as Float32Array)).toBeLessThan(TOL);

      // fromOnnxGRU reads the exported nodes back bit for bit: each node alone (layer k's weights)
      // and the chain of both as one 2-layer GRU.
      const model = readOnnxModel(bytes);
      const grus = model.nodes.filter((n) => n.opType === 'GRU');
      expect(grus.map((n) => n.attributes.linear_before_reset)).toEqual(resetAfter ? [1, 1] : [0, 0]);
      const own = Object.fromEntries(
        await Promise.all(
          Object.entries(gru.stateDict()).map(async ([k, t]) => [k, Float32Array.from(await t.data())] as const),
        ),
      );
      const sameBits = (got: Float32Array, key: string) =>
        expect(new Uint8Array(got.buffer), key).toEqual(new Uint8Array((own[key] as Float32Array).buffer));
      for (const [k, node] of grus.entries()) {
        const back = fromOnnxGRU(bytes, {}, { node: node.name, recurrentBias });
        expect(back.options).toMatchObject({ bidirectional: true, resetAfter, hiddenSize: H });
        for (const [key, values] of Object.entries(back.stateDict)) sameBits(values, key.replace(/^l0/, `l${k}`));
      }
      const chain = fromOnnxGRU(bytes, {}, { recurrentBias });
      expect(chain.options).toMatchObject({ numLayers: 2, inputSize: E });
      expect(Object.keys(chain.stateDict).sort()).toEqual(Object.keys(own).sort());
      for (const [key, values] of Object.entries(chain.stateDict)) sameBits(values, key);
    });
  }

  it('an LSTM with initial states and sequence lengths (batchFirst, bidirectional)', async () => {
    const [I, H] = [4, 3];
    const lstm = new LSTM({
      inputSize: I,
      hiddenSize: H,
      numLayers: 2,
      bidirectional: true,
      batchFirst: true,
      seed: 5,
    });
    const forward = (x: Variable, h0: Variable, c0: Variable, lengths: Int32Array): Variable[] => {
      const r = lstm.forward(x, { h0, c0 }, { lengths });
      return [r.output, r.hN, r.cN];
    };
    const make = (B: number, T: number, seed: number) => ({
      x: variable(randn([B, T, I], { seed })),
      h0: variable(randn([4, B, H], { seed: seed + 1 })),
      c0: variable(randn([4, B, H], { seed: seed + 2 })),
    });
    const t = make(3, 4, 10);
    const bytes = await exportOnnx(forward, [t.x, t.h0, t.c0, Int32Array.of(4, 2, 3)], {
      inputNames: ['x', 'h0', 'c0', 'lengths'],
      dynamicAxes: { x: { 0: 'batch', 1: 'time' }, h0: { 1: 'batch' }, c0: { 1: 'batch' }, lengths: { 0: 'batch' } },
    });
    const r = make(2, 6, 20);
    const lengths = Int32Array.of(6, 3);
    const host = async (v: Variable) => ({ dims: v.shape, data: Float32Array.from(await v.data()) });
    const ort = await runOnnx(bytes, {
      x: await host(r.x),
      h0: await host(r.h0),
      c0: await host(r.c0),
      lengths: { dims: [2], data: lengths },
    });
    const want = await wgruOutputs(() => forward(r.x, r.h0, r.c0, lengths));
    ['output_0', 'output_1', 'output_2'].forEach((name, k) => {
      expect(maxDiff(ort[name]?.data as Float32Array, want[k] as Float32Array), name).toBeLessThan(TOL);
    });
    expect(ort.output_0?.dims).toEqual([2, 6, 2 * H]);
  });

  it('a forward with plain ops between modules (RNN, GRU with lengths, slices, reductions, where, concat)', async () => {
    await checkPlainOps(17);
  });

  it('gives the bytes at once where weights read at once (cpu, wasm), as API.md and torch.onnx.export; a Promise on WebGPU', async () => {
    const embed = new Embedding(7, 3, { seed: 1 });
    const gru = new GRU({ inputSize: 3, hiddenSize: 4, seed: 2 });
    const lstm = new LSTM({ inputSize: 4, hiddenSize: 2, seed: 3 });
    const head = new Linear(2, 7, { seed: 4 });
    const forward = (x: Tensor) =>
      head.forward(lstm.forward(gru.forward(embed.forward(x)).output).output).logSoftmax(-1);
    const example = tensor(ids(4, 2, 7, 1), [4, 2], 'int32');
    const got = exportOnnx(forward, [example]);
    expect(got instanceof Promise).toBe(backend === 'webgpu');
    const bytes = await got;
    expect(bytes).toBeInstanceOf(Uint8Array);
    // The weights are the module's either way: ONNX Runtime computes what wgru does.
    const ort = await runOnnx(bytes, { input: { dims: [4, 2], data: ids(4, 2, 7, 1) } });
    const [want] = await wgruOutputs(() => forward(example));
    expect(maxDiff(ort.output?.data as Float32Array, want as Float32Array)).toBeLessThan(TOL);
  });
});

/**
 * A forward with Variable ops between modules: an RNN, a GRU reading sequence lengths (a graph
 * input), slices from the end of a dynamic axis, reductions, where/compare, concat, matmul, and a
 * Linear on rows (Gemm). Traced at T = 5, B = 3, run at T = 8, B = 4 in ONNX Runtime and in wgru.
 */
async function checkPlainOps(opset: number): Promise<void> {
  const [F, H] = [3, 4];
  const rnn = new RNN({ inputSize: F, hiddenSize: H, seed: 7 });
  const gru = new GRU({ inputSize: 2 * H, hiddenSize: H, seed: 8 });
  const drop = new Dropout(0.3).eval();
  const proj = variable(randn([H, 2], { seed: 9 }), { requiresGrad: true });
  const fc = new Linear(H, 2, { seed: 10 });
  const softmax = new Softmax(-1);
  const forward = (x: Variable, lengths: Int32Array): Variable => {
    const T = x.shape[0];
    const a = rnn.forward(x).output; // [T, B, H]
    const b = where(a.greater(0), a, a.mul(0.1)).sub(a.mean(0, true)); // leaky, centred over time
    const h = gru.forward(drop.forward(concat([a, b.tanh()], 2)), undefined, { lengths }).output; // [T, B, H]
    const last = h.slice([T - 1, 0, 0], [1, -1, -1]).reshape([h.shape[1], H]); // [B, H]
    const pooled = h.max(0).add(h.sum(0)).abs().sqrt(); // [B, H]
    const flat = h.reshape([-1, H]).matmul(proj).transpose([1, 0]); // [2, T·B]
    const scores = softmax.forward(fc.forward(last.mul(pooled).add(a.min(0)))); // [B, 2]
    const mixed = scores.add(flat.sum(1).exp().mul(0.001)).logSumExp(-1).unsqueeze(1);
    return mixed.sub(last.maximum(0).minimum(1).pow(2)).div(last.lessEqual(0.5).add(1));
  };
  const traceX = variable(randn([5, 3, F], { seed: 11 }));
  const bytes = await exportOnnx(forward, [traceX, Int32Array.of(5, 2, 4)], { inputNames: ['x', 'lengths'], opset });
  const x = variable(randn([8, 4, F], { seed: 12 }));
  const lengths = Int32Array.of(8, 3, 6, 8);
  const ort = await runOnnx(bytes, {
    x: { dims: [8, 4, F], data: Float32Array.from(await x.data()) },
    lengths: { dims: [4], data: lengths },
  });
  const [want] = await wgruOutputs(() => forward(x, lengths));
  expect(ort.output?.dims).toEqual([4, H]);
  expect(maxDiff(ort.output?.data as Float32Array, want as Float32Array)).toBeLessThan(TOL);
}

describe('exportOnnx at the oldest and newest opsets it writes', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });
  for (const opset of [13, 21]) it(`opset ${opset}`, () => checkPlainOps(opset));
  it('a module called twice shares its initializers', async () => {
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, seed: 1 });
    const twice = (x: Variable) =>
      gru.forward(gru.forward(x.slice([0, 0, 0], [-1, -1, 2])).output.slice([0, 0, 1], [-1, -1, 2])).output;
    const bytes = await exportOnnx(twice, [variable(randn([4, 2, 5], { seed: 2 }))]);
    const model = readOnnxModel(bytes);
    expect(model.nodes.filter((n) => n.opType === 'GRU')).toHaveLength(2);
    expect([...model.initializers.keys()].filter((k) => k.startsWith('gru.'))).toEqual([
      'gru.l0.W',
      'gru.l0.R',
      'gru.l0.B',
    ]);
  });
});

describe('exportOnnx: bad input throws before anything is written', () => {
  const fc = new Linear(3, 2, { seed: 0 });
  const x = variable(randn([4, 3], { seed: 1 }));

  it('names an unknown option, a bad opset, and misnamed inputs', () => {
    expect(() => exportOnnx((v: Variable) => fc.forward(v), [x], { opsets: 17 } as never)).toThrow(
      /exportOnnx: unknown option 'opsets'/,
    );
    expect(() => exportOnnx((v: Variable) => fc.forward(v), [x], { opset: 9 })).toThrow(
      /opset must be an integer from 13/,
    );
    expect(() => exportOnnx((v: Variable) => fc.forward(v), [x], { inputNames: ['a', 'b'] })).toThrow(
      /inputNames must be 1 non-empty strings/,
    );
    expect(() => exportOnnx((v: Variable) => fc.forward(v), [x], { dynamicAxes: { y: [0] } })).toThrow(
      /dynamicAxes names 'y', which is not an input/,
    );
  });

  it('names an op without an ONNX mapping', () => {
    const custom = (v: Variable) =>
      traced(
        'erf',
        [v],
        null,
        () => v.mul(1),
        (y) => [y],
      );
    expect(() => exportOnnx((v: Variable) => custom(fc.forward(v)), [x])).toThrow(/the op 'erf' has no ONNX mapping/);
  });

  it('refuses Dropout in training mode, values made beside the tape, and inexpressible reshapes', () => {
    const drop = new Dropout(0.5);
    expect(() => exportOnnx((v: Variable) => drop.forward(v), [x])).toThrow(/Dropout\(0.5\) is in training mode/);
    const raw = (v: Variable) => variable(v.value).mul(2);
    expect(() => exportOnnx((v: Variable) => raw(fc.forward(v)), [x])).toThrow(/made during the trace by something/);
    const tokens = tensor(Int32Array.of(1, 2, 0, 1), [2, 2], 'int32');
    const embed = new Embedding(3, 2, { seed: 3 });
    expect(() => exportOnnx((t: Tensor) => embed.forward(reshape(t, [4])), [tokens])).toThrow(
      /a view \[4\] of an input made with raw/,
    );
    const seq = variable(randn([4, 3, 2], { seed: 2 })); // dynamic time and batch
    expect(() => exportOnnx((v: Variable) => v.reshape([2, 12]), [seq])).toThrow(/cannot reshape/);
  });
});
