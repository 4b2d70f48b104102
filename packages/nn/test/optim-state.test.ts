/**
 * Optimizer state as data: stateDict() / loadStateDict() round-trip through safetensors, and a run
 * resumed from them (weights + optimizer state) continues to the very losses of an uninterrupted
 * run, on every backend.
 */
import { setBackend } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import {
  Adam,
  AdamW,
  CrossEntropyLoss,
  decodeSafetensors,
  Embedding,
  GRU,
  Linear,
  loadSafetensors,
  type Module,
  type Optimizer,
  type OptimizerStateDict,
  SGD,
  saveSafetensors,
} from '../src/index.js';

type MakeOpt = (m: Module[]) => Optimizer<object>;

/** A tiny GRU language model; `steps` training steps from `from`, returning the losses. */
function model() {
  const embed = new Embedding(8, 4, { seed: 1 });
  const gru = new GRU({ inputSize: 4, hiddenSize: 5, seed: 2 });
  const head = new Linear(5, 8, { seed: 3 });
  const modules = [embed, gru, head];
  const lossFn = new CrossEntropyLoss();
  const x = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const targets = Int32Array.of(2, 3, 4, 5, 6, 7);
  const train = async (opt: Optimizer<object>, steps: number): Promise<number[]> => {
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const loss = lossFn.forward(head.forward(gru.forward(embed.forward(x)).output.reshape([6, 5])), targets);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      losses.push(await loss.item());
    }
    return losses;
  };
  return {
    modules,
    train,
    dispose: () => {
      for (const m of modules) m.dispose();
    },
  };
}

/** Weights and optimizer state in one safetensors file, the numbers in its metadata. */
async function save(modules: Module[], opt: Optimizer<object>): Promise<Uint8Array> {
  const weights = Object.fromEntries(
    modules.flatMap((m, k) => Object.entries(m.stateDict()).map(([n, t]) => [`model${k}.${n}`, t])),
  );
  const sd: OptimizerStateDict = opt.stateDict();
  const optState = Object.fromEntries(Object.entries(sd.state).map(([n, t]) => [`optim.${n}`, t]));
  return saveSafetensors({ ...weights, ...optState }, { optim: JSON.stringify({ steps: sd.steps, hyper: sd.hyper }) });
}

function load(bytes: Uint8Array, modules: Module[], opt: Optimizer<object>): void {
  const all = loadSafetensors(bytes);
  const { steps, hyper } = JSON.parse(decodeSafetensors(bytes).metadata?.optim ?? '{}');
  modules.forEach((m, k) => {
    const prefix = `model${k}.`;
    m.loadStateDict(
      Object.fromEntries(
        Object.entries(all)
          .filter(([n]) => n.startsWith(prefix))
          .map(([n, t]) => [n.slice(prefix.length), t]),
      ),
    );
  });
  const state = Object.fromEntries(
    Object.entries(all)
      .filter(([n]) => n.startsWith('optim.'))
      .map(([n, t]) => [n.slice(6), t]),
  );
  opt.loadStateDict({ state, steps, hyper });
  for (const t of Object.values(all)) t.dispose();
}

const optimizers: Array<[string, MakeOpt]> = [
  [
    'Adam',
    (m) =>
      new Adam(
        m.flatMap((x) => x.parameters()),
        { lr: 0.05 },
      ) as Optimizer<object>,
  ],
  [
    'AdamW (AMSGrad)',
    (m) =>
      new AdamW(
        m.flatMap((x) => x.parameters()),
        { lr: 0.05, amsgrad: true },
      ) as Optimizer<object>,
  ],
  [
    'SGD (momentum, Nesterov)',
    (m) =>
      new SGD(
        m.flatMap((x) => x.parameters()),
        { lr: 0.1, momentum: 0.9, nesterov: true },
      ) as Optimizer<object>,
  ],
];

forEachBackend('optimizer state dicts', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  describe.each(optimizers)('%s', (_, makeOpt) => {
    it('a run resumed from weights + optimizer state saved as safetensors gives the uninterrupted losses exactly', async () => {
      const whole = model();
      const wholeOpt = makeOpt(whole.modules);
      const expected = await whole.train(wholeOpt, 6);
      wholeOpt.dispose();
      whole.dispose();

      const first = model();
      const firstOpt = makeOpt(first.modules);
      const before = await first.train(firstOpt, 3);
      const bytes = await save(first.modules, firstOpt);
      firstOpt.dispose();
      first.dispose();

      const second = model(); // same seeds: the saved weights must overwrite these
      const secondOpt = makeOpt(second.modules);
      load(bytes, second.modules, secondOpt);
      const after = await second.train(secondOpt, 3);
      secondOpt.dispose();
      second.dispose();
      expect([...before, ...after]).toEqual(expected);
    });
  });

  it('loadStateDict checks before it changes anything: hyperparameters, keys, shapes', async () => {
    const m = model();
    const opt = new Adam(
      m.modules.flatMap((x) => x.parameters()),
      { lr: 0.05 },
    );
    await m.train(opt as Optimizer<object>, 1);
    const sd = opt.stateDict();
    const other = new Adam(
      m.modules.flatMap((x) => x.parameters()),
      { lr: 0.05, betas: [0.8, 0.999] },
    );
    expect(() => other.loadStateDict(sd)).toThrow(
      /^Adam\.loadStateDict: betas is \[0\.9,0\.999\] in the dict but \[0\.8,0\.999\] here$/,
    );
    expect(() =>
      opt.loadStateDict({ ...sd, state: { ...sd.state, '99.exp_avg': sd.state['0.exp_avg'] as never } }),
    ).toThrow(/unexpected key '99\.exp_avg'/);
    expect(() => opt.loadStateDict({ ...sd, state: { ...sd.state, '0.exp_avg': new Float32Array(3) } })).toThrow(
      /'0\.exp_avg' is 3 values but params\[0\] has shape \[8, 4\]/,
    );
    // Still usable, state intact; lr is taken from the dict.
    expect(opt.stateDict().steps['0']).toBe(1);
    const fresh = new Adam(
      m.modules.flatMap((x) => x.parameters()),
      { lr: 0.1 },
    );
    fresh.loadStateDict(sd);
    expect(fresh.lr).toBe(0.05);
    expect(fresh.stateDict().steps).toEqual(sd.steps);
    expect(await fresh.stateDict().state['0.exp_avg']?.data()).toEqual(await sd.state['0.exp_avg']?.data());
    for (const o of [opt, other, fresh]) o.dispose();
    m.dispose();
  });
});
