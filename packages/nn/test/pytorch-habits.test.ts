/**
 * Code written as PyTorch users write it works unchanged: the defaults and argument forms of
 * torch.nn where API.md is silent. A module called through a `Module` reference (this file is
 * type-checked: `forward` takes any arguments and returns any), CrossEntropyLoss ignoring target
 * -100 by default, MSELoss with a Tensor target, Dropout(1), raw argmax with no axis over the
 * flattened values, and optimizers over plain Variables (optim.test.ts).
 */
import { variable } from '@wgru/autograd';
import { CrossEntropyLoss, Dropout, GRU, Linear, MSELoss, type Module } from '@wgru/nn';
import { argmax, argmin, setBackend, tensor } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';

describe('PyTorch habits', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });

  it('a module called through a Module reference, as nn.Module', async () => {
    const layers: Module[] = [new Linear(2, 3, { seed: 1 }), new Linear(3, 1, { seed: 2 })];
    let h = variable([[1, 2]]);
    for (const m of layers) h = m.forward(h);
    expect(h.shape).toEqual([1, 1]);
    expect(Number.isFinite(await h.sum().item())).toBe(true);
  });

  it('CrossEntropyLoss ignores target -100 by default, and averages over the other rows', async () => {
    const logits = variable(
      [
        [1, 2, 0.5],
        [0.1, -1, 2],
        [3, 0, 0],
      ],
      { requiresGrad: true },
    );
    const dflt = new CrossEntropyLoss();
    expect(dflt.ignoreIndex).toBe(-100);
    const withIgnored = await dflt.forward(logits, Int32Array.of(1, -100, 0)).item();
    const twoRows = await new CrossEntropyLoss()
      .forward(
        variable([
          [1, 2, 0.5],
          [3, 0, 0],
        ]),
        Int32Array.of(1, 0),
      )
      .item();
    expect(withIgnored).toBeCloseTo(twoRows, 12);
    // Other negative targets are still errors, naming the target.
    expect(() => dflt.forward(logits, Int32Array.of(1, -1, 0))).toThrow(/target -1 at position 1 is out of range/);
  });

  it('MSELoss takes a Tensor target, as torch does, with the same loss and gradient', async () => {
    const x = variable([1, 2, 3], { requiresGrad: true });
    const a = new MSELoss().forward(x, tensor([0, 2, 5]));
    const b = new MSELoss().forward(x, variable([0, 2, 5]));
    expect(await a.item()).toBe(await b.item());
    a.backward();
    const g = await (x.grad as NonNullable<typeof x.grad>).data();
    const want = [2 / 3, 0, -4 / 3]; // 2 (x − t) / 3, in float32
    for (let i = 0; i < 3; i++) expect(g[i]).toBeCloseTo(want[i] as number, 6);
  });

  it('Dropout(1) drops everything, with a zero gradient (not NaN); GRU dropout 1 between layers', async () => {
    const x = variable([[1, -2, 3]], { requiresGrad: true });
    const y = new Dropout(1).forward(x);
    expect(Array.from(await y.data())).toEqual([0, -0, 0]);
    y.sum().backward();
    expect(Array.from(await (x.grad as NonNullable<typeof x.grad>).data())).toEqual([0, 0, 0]);
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2, dropout: 1, seed: 3 });
    const { output } = gru.forward(variable([[[1, 2]], [[3, 4]]]));
    expect(output.shape).toEqual([2, 1, 3]);
    // Layer 2 sees only zeros: its output is that of a zero input, finite, whatever layer 1 made.
    const alone = new GRU({ inputSize: 3, hiddenSize: 3, seed: 3 });
    alone.loadStateDict(
      Object.fromEntries(
        Object.entries(gru.stateDict()).flatMap(([k, v]) => (k.startsWith('l1.') ? [[`l0.${k.slice(3)}`, v]] : [])),
      ),
    );
    const zeros = await alone.forward(variable([[[0, 0, 0]], [[0, 0, 0]]])).output.data();
    expect(Array.from(await output.data())).toEqual(Array.from(zeros));
  });

  it('argmax / argmin of a Tensor with no axis: the index into the flattened values, as numpy and torch', async () => {
    const x = tensor([
      [1, 5],
      [7, 2],
    ]);
    const i = argmax(x);
    expect(i.shape).toEqual([]);
    expect(Array.from(await i.data())).toEqual([2]);
    expect(Array.from(await argmin(x).data())).toEqual([0]);
    expect(argmax(x, undefined, true).shape).toEqual([1, 1]);
    expect(Array.from(await argmax(x, 1).data())).toEqual([1, 0]);
  });
});
