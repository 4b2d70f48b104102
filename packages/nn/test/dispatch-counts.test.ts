import { noGrad, variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, Embedding, GRU, GRUCell, Linear, LSTM } from '@wgru/nn';
import { engineStats, flush, randn, setBackend, tensor } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { webgpuAvailable } from '../../../test-support/backends.js';

// The engine's batching, in counts (never times): how many kernels a GRU step costs and how many
// queue submits a whole training step costs, on WebGPU.
const hasGpu = await webgpuAvailable();
const SMALL = { B: 4, I: 8, H: 16, V: 12 };
/** The size of the training benchmark's second configuration (the products take the texture path). */
const BENCH = { B: 64, I: 128, H: 256, V: 128 };
const { B, I, H } = SMALL;

function model(size = SMALL, resetAfter = true) {
  const emb = new Embedding(size.V, size.I, { seed: 1 });
  const gru = new GRU({ inputSize: size.I, hiddenSize: size.H, resetAfter, seed: 2 });
  const head = new Linear(size.H, size.V, { seed: 3 });
  return { emb, gru, head, params: [...emb.parameters(), ...gru.parameters(), ...head.parameters()] };
}

function batch(T: number, size = SMALL) {
  const ids = Int32Array.from({ length: T * size.B }, (_, i) => (i * 7) % size.V);
  return {
    x: tensor(ids, [T, size.B], 'int32'),
    y: tensor(
      Int32Array.from(ids, (v) => (v + 1) % size.V),
      [T * size.B],
      'int32',
    ),
  };
}

/** Dispatches of the GRU's forward and of the whole backward, for sequences of length T. */
async function dispatches(T: number, size = SMALL, resetAfter = true): Promise<{ forward: number; backward: number }> {
  const { emb, gru, head } = model(size, resetAfter);
  const { x, y } = batch(T, size);
  const { B, H } = size;
  const e = emb.forward(x);
  flush();
  const s0 = engineStats().dispatches;
  const { output } = gru.forward(e);
  flush();
  const s1 = engineStats().dispatches;
  const loss = new CrossEntropyLoss().forward(head.forward(output.reshape([T * B, H])), y);
  flush();
  const s2 = engineStats().dispatches;
  loss.backward();
  flush();
  const s3 = engineStats().dispatches;
  return { forward: s1 - s0, backward: s3 - s2 };
}

describe.skipIf(!hasGpu)('dispatch and submit counts [webgpu]', () => {
  beforeAll(async () => {
    await setBackend('webgpu');
  });

  it('a GRU timestep costs at most 2 dispatches forward (h·U, fused gates) and 4 backward', async () => {
    const short = await dispatches(8);
    const long = await dispatches(24);
    const perStepForward = (long.forward - short.forward) / 16;
    const perStepBackward = (long.backward - short.backward) / 16;
    expect(perStepForward).toBeLessThanOrEqual(2.1); // stacking outputs adds a kernel per ~15 steps
    expect(perStepBackward).toBeLessThanOrEqual(4);
  });

  it('the same at the benchmark size (B=64, H=256: h·U on the texture path, U packed once); resetAfter: false is 4 and 6', async () => {
    for (const resetAfter of [true, false]) {
      const short = await dispatches(4, BENCH, resetAfter);
      const long = await dispatches(12, BENCH, resetAfter);
      const perStepForward = (long.forward - short.forward) / 8;
      const perStepBackward = (long.backward - short.backward) / 8;
      // resetAfter: false needs r before (r ⊙ h) U_h: two products and two gate kernels a step
      expect(perStepForward, `resetAfter ${resetAfter}`).toBeLessThanOrEqual(resetAfter ? 2.13 : 4.13);
      expect(perStepBackward, `resetAfter ${resetAfter}`).toBeLessThanOrEqual(resetAfter ? 4 : 6);
    }
  });

  it('an LSTM timestep: 2 dispatches forward (h·U, fused gates), at most 4 backward', async () => {
    const count = async (T: number) => {
      const lstm = new LSTM({ inputSize: I, hiddenSize: H, seed: 2 });
      const x = variable(randn([T, B, I], { seed: 5 }));
      flush();
      const s0 = engineStats().dispatches;
      const { output } = lstm.forward(x);
      flush();
      const s1 = engineStats().dispatches;
      const loss = output.square().sum();
      flush();
      const s2 = engineStats().dispatches;
      loss.backward();
      flush();
      return { forward: s1 - s0, backward: engineStats().dispatches - s2 };
    };
    const short = await count(8);
    const long = await count(24);
    expect((long.forward - short.forward) / 16).toBeLessThanOrEqual(2.1);
    expect((long.backward - short.backward) / 16).toBeLessThanOrEqual(4);
  });

  it('a whole training step (forward, backward, Adam, loss read) is at most 2 queue submits', async () => {
    const { emb, gru, head, params } = model();
    const opt = new Adam(params, { lr: 1e-2 });
    const { x, y } = batch(16);
    for (let step = 0; step < 3; step++) {
      const before = engineStats().submits;
      const { output } = gru.forward(emb.forward(x));
      const loss = new CrossEntropyLoss().forward(head.forward(output.reshape([16 * B, H])), y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      await loss.item();
      expect(engineStats().submits - before).toBeLessThanOrEqual(2);
    }
  });

  it('generation: one GRU cell step is one dispatch', () => {
    const cell = new GRUCell({ inputSize: I, hiddenSize: H, resetAfter: true, seed: 4 });
    const xp = variable(randn([1, 3 * H], { seed: 5 }));
    const h = variable(randn([1, H], { seed: 6 }));
    flush();
    const before = engineStats().dispatches;
    noGrad(() => cell.step(xp, [h]));
    flush();
    expect(engineStats().dispatches - before).toBe(1);
  });
});
