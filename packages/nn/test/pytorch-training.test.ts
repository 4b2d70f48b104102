/**
 * wgru against real PyTorch 1.13 (fixtures written by scripts/pytorch-fixtures.py), for training:
 * Embedding, Linear and CrossEntropyLoss (forward and gradients); SGD, Adam and AdamW over 40
 * steps; and a PyTorch Embedding → GRU → Linear model imported with recurrentBias: true and
 * trained with Adam, its loss within 1e-4 of PyTorch's at every step. On every backend.
 */
import { variable } from '@wgru/autograd';
import { setBackend, type Tensor, tensor } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import { fromPyTorchGRU } from '../src/importers/pytorch.js';
import { Embedding } from '../src/layers/embedding.js';
import { Linear } from '../src/layers/linear.js';
import { CrossEntropyLoss } from '../src/losses.js';
import type { Parameter } from '../src/module.js';
import { Adam, AdamW } from '../src/optim/adam.js';
import { SGD } from '../src/optim/sgd.js';
import { GRU } from '../src/rnn/gru.js';
import { expectClose, type Fixture, fixture, host, transposed } from './pytorch-fixtures.js';

/** A PyTorch nn.Linear's weight [out, in] and bias as a wgru Linear's W [in, out] and b. */
function linearFrom(f: Fixture, prefix: string): Record<string, Float32Array> {
  return { W: transposed(f.f32(`param.${prefix}weight`)).data, b: f.f32(`param.${prefix}bias`).data };
}

const ints = (f: Fixture, key: string): Tensor => {
  const t = f.get(key);
  return tensor(Int32Array.from(t.data), t.shape, 'int32');
};

// biome-ignore lint/suspicious/noExplicitAny: the fixture's optimizer options, as JSON
function optimizer(o: any, params: Parameter[]): { zeroGrad(): void; step(): void } {
  const { name, ...opts } = o;
  if (name === 'SGD') return new SGD(params, opts);
  if (name === 'Adam') return new Adam(params, opts);
  if (name === 'AdamW') return new AdamW(params, opts);
  throw new Error(`unknown optimizer ${name}`);
}

/** Runs `losses.length` steps of `step` (which returns the loss before the update) and checks each. */
async function expectCurve(want: ArrayLike<number>, step: () => Promise<number>, label: string): Promise<void> {
  const got: number[] = [];
  for (let i = 0; i < want.length; i++) got.push(await step());
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got[i] - want[i]), `${label}: step ${i}, loss ${got[i]} vs PyTorch ${want[i]}`).toBeLessThanOrEqual(
      1e-4,
    );
}

forEachBackend('PyTorch 1.13 fixtures: training', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('Embedding → Linear → CrossEntropyLoss (mean; sum with label smoothing): logits, losses, gradients', async () => {
    const f = fixture('embedding_linear_ce');
    const { V, E, C } = f.config;
    const emb = new Embedding(V, E);
    emb.loadStateDict({ weight: f.f32('param.emb.weight').data });
    const lin = new Linear(E, C);
    lin.loadStateDict(linearFrom(f, 'lin.'));
    const logits = lin.forward(emb.forward(ints(f, 'in.ids')));
    expectClose(await logits.data(), f.f32('out.logits'), 'logits');
    const targets = ints(f, 'in.targets');
    const loss = new CrossEntropyLoss().forward(logits, targets);
    const smooth = new CrossEntropyLoss({ labelSmoothing: 0.1, reduction: 'sum' }).forward(logits, targets);
    expectClose(await loss.data(), f.f32('out.loss'), 'loss');
    expectClose(await smooth.data(), f.f32('out.loss_smooth'), 'loss with label smoothing');
    loss.add(smooth).backward();
    expectClose(await host(emb.weight.grad, 'emb'), f.f32('grad.emb.weight'), 'd embedding');
    expectClose(await host(lin.W.grad, 'W'), transposed(f.f32('grad.lin.weight')), 'd W');
    expectClose(await host(lin.b?.grad, 'b'), f.f32('grad.lin.bias'), 'd b');
  });

  for (const id of ['optim_sgd', 'optim_adam', 'optim_adamw']) {
    it(`${id}: 40 steps of a Linear classifier, every loss within 1e-4 of PyTorch's, and the final weights`, async () => {
      const f = fixture(id);
      const lin = new Linear(4, 3);
      lin.loadStateDict(linearFrom(f, ''));
      const opt = optimizer(f.config.optimizer, lin.parameters());
      const x = variable(tensor(f.f32('in.x').data, [8, 4]));
      const y = ints(f, 'in.y');
      const ce = new CrossEntropyLoss();
      await expectCurve(
        f.get('out.losses').data,
        async () => {
          opt.zeroGrad();
          const loss = ce.forward(lin.forward(x), y);
          const value = (await loss.data())[0];
          loss.backward();
          opt.step();
          return value;
        },
        id,
      );
      expectClose(await lin.W.data(), transposed(f.f32('out.weight')), 'final W', 1e-4);
      expectClose(await host(lin.b?.value, 'b'), f.f32('out.bias'), 'final b', 1e-4);
    });
  }

  it("an imported Embedding → GRU → Linear, recurrentBias: true, trained with Adam: PyTorch's loss curve at every step", async () => {
    const f = fixture('train_gru_adam');
    const { T, B, V, E, H, C } = f.config;
    const emb = new Embedding(V, E);
    emb.loadStateDict({ weight: f.f32('param.emb.weight').data });
    const gru = new GRU({ inputSize: E, hiddenSize: H, resetAfter: true, recurrentBias: true });
    const torchGru = Object.fromEntries(
      ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'].map((k) => [k, f.f32(`param.gru.${k}`)]),
    );
    gru.loadStateDict(fromPyTorchGRU(torchGru, { inputSize: E, hiddenSize: H, recurrentBias: true }));
    const head = new Linear(H, C);
    head.loadStateDict(linearFrom(f, 'head.'));
    const opt = optimizer(f.config.optimizer, [...emb.parameters(), ...gru.parameters(), ...head.parameters()]);
    const [ids, targets] = [ints(f, 'in.ids'), ints(f, 'in.targets')];
    const flatTargets = tensor(Int32Array.from(f.get('in.targets').data), [T * B], 'int32');
    expect(targets.shape).toEqual([T, B]);
    const ce = new CrossEntropyLoss();
    await expectCurve(
      f.get('out.losses').data,
      async () => {
        opt.zeroGrad();
        const { output } = gru.forward(emb.forward(ids));
        const loss = ce.forward(head.forward(output.reshape([T * B, H])), flatTargets);
        const value = (await loss.data())[0];
        loss.backward();
        opt.step();
        return value;
      },
      'GRU tagger',
    );
  });
});
