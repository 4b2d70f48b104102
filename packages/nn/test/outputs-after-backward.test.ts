/**
 * What user code holds (a module's outputs: logits, a GRU's output and hN; what it computed from
 * them itself; the loss) stays readable after `loss.backward()` and `opt.step()`, until the next
 * `backward()` (or `dispose()`), as in PyTorch, and the loss keeps its number after that; what the
 * forwards made on the way is freed by `backward()`. See docs/lifetimes.md.
 */
import { type Variable, variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, Embedding, GRU, GRUCell, Linear, Module } from '@wgru/nn';
import { memory, setBackend } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

const [V, E, H, B, T] = [8, 4, 6, 2, 3];
const x = [
  [1, 2],
  [3, 4],
  [5, 6],
];
const y = Int32Array.of(2, 3, 4, 5, 6, 7);

forEachBackend('outputs after backward', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('a loop reads logits, hN and the loss after backward() and opt.step(); the next backward() frees them', async () => {
    using embed = new Embedding(V, E, { seed: 1 });
    using gru = new GRU({ inputSize: E, hiddenSize: H, seed: 2 });
    using head = new Linear(H, V, { seed: 3 });
    using opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 0.05 });
    const lossFn = new CrossEntropyLoss();
    let previous: { logits: Variable; hN: Variable; flat: Variable } | null = null;
    let live: number | null = null;
    for (let step = 0; step < 4; step++) {
      const { output, hN } = gru.forward(embed.forward(x));
      const flat = output.reshape([T * B, H]); // computed by user code from an output
      const logits = head.forward(flat);
      const loss = lossFn.forward(logits, y);
      const expected = Array.from(await logits.data());
      loss.backward();
      opt.step();
      opt.zeroGrad();

      // The PyTorch habits: accuracy from the logits, the state, the loss, after the update.
      expect(Array.from(await logits.data())).toEqual(expected);
      expect(hN.shape).toEqual([1, B, H]);
      for (const v of await hN.data()) expect(Math.abs(v)).toBeLessThan(1);
      expect(Number.isFinite(await loss.item())).toBe(true);
      expect((await output.data()).length).toBe(T * B * H);
      // What user code computed itself too, and the loss itself.
      expect((await flat.data()).length).toBe(T * B * H);
      expect((await loss.value.data()).length).toBe(1);
      // The previous step's went with this backward().
      if (previous) {
        expect(() => previous?.logits.value).toThrow(/freed by backward\(\)/);
        expect(() => previous?.hN.value).toThrow(/freed by backward\(\)/);
        expect(() => previous?.flat.value).toThrow(/freed by backward\(\)/);
      }
      previous = { logits, hN, flat };
      // Memory is the same after every step: one step's outputs, no more.
      if (step === 1) live = memory().liveTensors;
      if (step > 1) expect(memory().liveTensors).toBe(live);
    }
  });

  it('only what reaches user code is kept: the outputs of modules inside a module are freed', async () => {
    class Net extends Module {
      readonly a = new Linear(3, 4, { seed: 1 });
      readonly b = new Linear(4, 2, { seed: 2 });
      inner: Variable | null = null;
      forward(v: Variable): Variable {
        this.inner = this.a.forward(v).tanh();
        return this.b.forward(this.inner);
      }
    }
    using net = new Net();
    using v = variable([[1, 2, 3]]);
    const out = net.forward(v);
    const before = await out.data();
    out.sum().backward();
    expect(await out.data()).toEqual(before);
    expect(() => net.inner?.value).toThrow(/freed by backward\(\)/);
    // Disposed early, it is simply gone; the next backward() does not mind.
    out.dispose();
    net.forward(v).sum().backward();
    net.zeroGrad();
  });

  it("a branch a module made and no backward used is freed (a nested GRU's output when only hN is read)", async () => {
    class LastState extends Module {
      readonly gru = new GRU({ inputSize: E, hiddenSize: H, seed: 4 });
      readonly head = new Linear(H, V, { seed: 5 });
      forward(v: Variable): Variable {
        const { hN } = this.gru.forward(v); // output, the stack of every step, is never read
        return this.head.forward(hN.reshape([B, H]));
      }
    }
    using embed = new Embedding(V, E, { seed: 1 });
    using model = new LastState();
    using opt = new Adam([...embed.parameters(), ...model.parameters()], { lr: 0.05 });
    const lossFn = new CrossEntropyLoss();
    const counts: number[] = [];
    for (let step = 0; step < 8; step++) {
      const loss = lossFn.forward(model.forward(embed.forward(x)), y.subarray(0, B));
      loss.backward();
      opt.step();
      opt.zeroGrad();
      await loss.item();
      loss.dispose();
      counts.push(memory().liveTensors);
    }
    // Flat after the first steps: nothing is left for the garbage collector, step after step.
    expect(counts.slice(3)).toEqual(counts.slice(3).map(() => counts[3]));
  });

  it("a cell's step called from user code: what it returns stays readable after backward(); its gates go with backward()", async () => {
    using cell = new GRUCell({ inputSize: 2, hiddenSize: 3, seed: 1 });
    const xp = cell.project(variable([[1, 2]]));
    const [h] = cell.step(xp, [variable([[0, 0, 0]])]) as [Variable];
    const loss = h.sum();
    const live = memory().liveTensors;
    loss.backward();
    expect(memory().liveTensors).toBeLessThan(live); // the gates the rules read are freed now
    expect((await h.data()).length).toBe(3);
    for (const p of cell.parameters()) p.zeroGrad();
  });
});
