/**
 * The tape's own rules, on every backend: accumulation, retained and freed graphs, which leaves
 * get gradients, and what a leaf's gradient is (its own dense tensor, of the leaf's dtype).
 */
import * as F from '@wgru/autograd';
import { add, concat, gradcheck, noGrad, type Variable, variable } from '@wgru/autograd';
import * as Tn from '@wgru/tensor';
import { activeBackend, assign, memory, setBackend, tensor, type Tensor } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

const values = async (t: Tensor | null): Promise<number[]> => Array.from(await (t as Tensor).data());

/** Whether `t` is dense row-major from the start of its own storage. */
function isDense(t: Tensor): boolean {
  let stride = 1;
  for (let i = t.rank - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== stride) return false;
    stride *= t.shape[i];
  }
  return t.offset === 0;
}

forEachBackend('tape', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  describe('accumulation', () => {
    it('sums gradients over calls, and over every use of a value', async () => {
      const x = variable([1, 2, 3], { requiresGrad: true });
      x.mul(x).sum().backward(); // 2x
      x.mul(3).sum().backward(); // + 3
      expect(await values(x.grad)).toEqual([5, 7, 9]);
      x.zeroGrad();
      expect(x.grad).toBeNull();
    });

    it('gives no gradient to inputs that do not require one, and none through detach or noGrad', async () => {
      const x = variable([1, 2], { requiresGrad: true });
      const c = variable([3, 4]);
      const y = x
        .mul(c)
        .add(x.detach().mul(100))
        .add(noGrad(() => x.mul(100)))
        .sum();
      y.backward();
      expect(await values(x.grad)).toEqual([3, 4]);
      expect(c.grad).toBeNull();
      expect(x.detach().requiresGrad).toBe(false);
    });

    it('blocks of slices of a view (slice, then reshape) land in the right places, tiling or not', async () => {
      const x = variable(Tn.zeros([3, 4, 5]), { requiresGrad: true });
      const v = x.slice([1, 0, 0], [1, 4, 5]).reshape([4, 5]);
      const loss = v
        .slice([0, 1], [4, 2])
        .mul(2)
        .sum()
        .add(v.slice([1, 3], [2, 2]).mul(3).sum());
      loss.add(x.slice([2, 0, 0], [1, 4, 5]).reshape([20]).slice([18], [2]).sum()).backward();
      const want = new Array<number>(60).fill(0);
      for (let i = 0; i < 4; i++) for (const j of [1, 2]) want[20 + i * 5 + j] = 2;
      for (const i of [1, 2]) for (const j of [3, 4]) want[20 + i * 5 + j] = 3;
      want[58] = want[59] = 1; // through a reshape that is not a unit-axis one
      expect(await values(x.grad)).toEqual(want);
      // Blocks that tile their input exactly: copied side by side, no zero fill.
      const y = variable(Tn.zeros([2, 1, 3]), { requiresGrad: true });
      const w = y.reshape([2, 3]);
      w.slice([0, 0], [2, 1])
        .mul(4)
        .sum()
        .add(w.slice([0, 1], [2, 2]).mul(5).sum())
        .backward();
      expect(await values(y.grad)).toEqual([4, 5, 5, 4, 5, 5]);
    });

    it('backward of a scalar leaf gives it a gradient of one', async () => {
      const x = variable(2, { requiresGrad: true });
      x.backward();
      expect(await values(x.grad)).toEqual([1]);
    });
  });

  describe('freed graphs', () => {
    it('what user code made stays readable until the next backward, which frees it; reading one after says why', async () => {
      const x = variable([1, 2], { requiresGrad: true });
      const h = x.mul(2);
      const loss = h.sum();
      loss.backward();
      expect(Array.from(await h.data())).toEqual([2, 4]); // as in PyTorch: user code holds h
      expect(Array.from(await loss.value.data())).toEqual([6]);
      x.mul(3).sum().backward();
      expect(() => h.value).toThrow(/freed by backward/);
      expect(() => loss.value).toThrow(/next backward\(\) moved this loss value to the host.*item\(\)/);
      expect(await loss.item()).toBe(6);
    });

    it('a second backward through a freed graph throws instead of silently doing nothing', () => {
      const x = variable([1, 2], { requiresGrad: true });
      const loss = x.mul(2).sum();
      loss.backward();
      expect(() => loss.backward()).toThrow(/backward.*already.*freed.*retainGraph/s);
      const y = x.mul(2);
      y.backward(tensor([1, 1]));
      const more = y.mul(3).sum(); // a non-scalar root keeps its value, but its graph is gone
      expect(() => more.backward()).toThrow(/graph through mul \(output \[2\]\) was already freed/);
    });

    it('retainGraph allows a second backward, which accumulates', async () => {
      const x = variable([1, 2], { requiresGrad: true });
      const loss = x.mul(x).sum();
      loss.backward(undefined, { retainGraph: true });
      loss.backward();
      expect(await values(x.grad)).toEqual([4, 8]);
    });

    it('two losses sharing a subgraph: backward of each with retainGraph on the first', async () => {
      const x = variable([1, 2], { requiresGrad: true });
      const h = x.mul(x);
      const a = h.sum();
      const b = h.mul(2).sum();
      a.backward(undefined, { retainGraph: true });
      b.backward();
      expect(await values(x.grad)).toEqual([6, 12]);
    });
  });

  it('a where condition that requires grad gets none, and its part of the graph is still freed', async () => {
    const x = variable([1, -2, 3], { requiresGrad: true });
    const cond = x.greater(0).mul(x); // made from x: requires grad, but a condition has no gradient
    const y = F.where(cond, x, x.mul(2)).sum();
    y.backward();
    expect(await values(x.grad)).toEqual([1, 2, 1]); // cond = [1, -0, 3]: y = x0 + 2 x1 + x2
    const before = memory().liveTensors;
    x.mul(1).sum().backward(); // the next backward frees what this step's user code made
    expect(() => cond.value).toThrow(/freed by backward/);
    expect(memory().liveTensors).toBeLessThan(before);
  });

  describe('what a leaf gradient is', () => {
    it('its own dense tensor: not a view of the gradient given to backward(), not a broadcast view', async () => {
      const x = variable(
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        { requiresGrad: true },
      );
      const seed = tensor([1, 2, 3, 4, 5, 6]);
      x.reshape([6]).backward(seed);
      assign(seed, 0); // the caller may reuse its seed
      expect(await values(x.grad)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(isDense(x.grad as Tensor)).toBe(true);

      const w = variable(
        [
          [1, 2],
          [3, 4],
        ],
        { requiresGrad: true },
      );
      w.sum().backward(); // the rule broadcasts a scalar: a stride-0 view
      expect(isDense(w.grad as Tensor)).toBe(true);
      expect(await values(w.grad)).toEqual([1, 1, 1, 1]);

      const p = variable([1, 2], { requiresGrad: true });
      const q = variable([3], { requiresGrad: true });
      concat([p, q], 0)
        .mul(tensorVariable([1, 2, 3]))
        .sum()
        .backward(); // concat hands on slices of one buffer
      expect(isDense(p.grad as Tensor) && isDense(q.grad as Tensor)).toBe(true);
      expect(await values(q.grad)).toEqual([3]);
    });

    it('has the dtype of its leaf, and a seed of another dtype is converted to the root dtype', async () => {
      const x = variable([1, 2], { requiresGrad: true });
      const seed = tensor([1, 2], [2], 'int32');
      x.mul(1).backward(seed);
      expect(x.grad?.dtype).toBe('float32');
      expect(await values(x.grad)).toEqual([1, 2]);
      if (name === 'cpu') {
        const w = variable(Float64Array.from([1, 2]), { requiresGrad: true });
        add(x, w).sum().backward(); // float32 + float64 -> float64 output
        expect(x.grad?.dtype).toBe('float32');
        expect(w.grad?.dtype).toBe('float64');
      }
    });
  });

  describe('gradcheck', () => {
    it('catches a gradient that disagrees with finite differences', async () => {
      // relu at exactly 0: the tape says 0 (a convention), central differences say 1/2.
      const x = variable([0, 1], { requiresGrad: true });
      const r = await gradcheck((v) => v.relu().sum(), [x]);
      expect(r.ok).toBe(false);
      expect(r.maxAbsError).toBeGreaterThan(0.1); // 1/2 times the cotangent gradcheck projects on
    });

    it('leaves the active backend, the inputs and their gradients as it found them', async () => {
      const before = activeBackend();
      const x = variable([0.5, -1], { requiresGrad: true });
      x.mul(3).sum().backward();
      const r = await gradcheck((v) => v.tanh().mul(v).sum(), [x], { atol: 1e-7, rtol: 1e-6 });
      expect(r.ok).toBe(true);
      expect(activeBackend()).toBe(before);
      expect(await values(x.value)).toEqual([0.5, -1]);
      expect(await values(x.grad)).toEqual([3, 3]);
    });
  });
});

const tensorVariable = (v: number[]): Variable => variable(v);

describe('saves', () => {
  it('is read off the rule table: what each rule names in its parameters', () => {
    expect(F.saves.sigmoid).toEqual({ inputs: false, output: true });
    expect(F.saves.add).toEqual({ inputs: false, output: false });
    expect(F.saves.matmul).toEqual({ inputs: true, output: false });
    expect(F.saves.pow).toEqual({ inputs: true, output: true });
    // Shapes are always kept: sum, reshape and concat read no values.
    for (const op of ['sum', 'reshape', 'concat', 'slice'] as const) {
      expect(F.saves[op]).toEqual({ inputs: false, output: false });
    }
    expect(F.saves.gather).toEqual({ inputs: true, output: false }); // the indices
  });

  it('covers what each rule really reads when run on tensors (a value read later in its body would be freed too early)', () => {
    const T = Tn;
    const [a, b] = [T.tensor([[0.5, -1, 2]]), T.tensor([[1.5, 2, -0.5]])];
    const m = T.tensor([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const cond = T.greater(a, 0);
    const ids = T.tensor([0, 2], [2], 'int32');
    const un = (op: 'neg' | 'exp' | 'log' | 'sqrt' | 'sigmoid' | 'tanh' | 'relu' | 'abs') => ({
      inputs: [op === 'log' || op === 'sqrt' ? b : a],
      run: ([x]: Tensor[]) => T.unary(op, T.abs(x as Tensor)),
      attrs: null,
    });
    const bin = (f: (x: Tensor, y: Tensor) => Tensor) => ({
      inputs: [a, b],
      run: ([x, y]: Tensor[]) => f(x!, y!),
      attrs: null,
    });
    const cases: { [P in F.Primitive]: { inputs: Tensor[]; run: (xs: Tensor[]) => Tensor; attrs: unknown } } = {
      add: bin(T.add),
      sub: bin(T.sub),
      mul: bin(T.mul),
      div: bin(T.div),
      pow: { inputs: [T.abs(a), b], run: ([x, y]) => T.pow(x!, y!), attrs: null },
      maximum: bin(T.maximum),
      minimum: bin(T.minimum),
      neg: un('neg'),
      exp: un('exp'),
      log: un('log'),
      sqrt: un('sqrt'),
      sigmoid: un('sigmoid'),
      tanh: un('tanh'),
      relu: un('relu'),
      abs: un('abs'),
      where: { inputs: [cond, a, b], run: ([c, x, y]) => T.where(c!, x!, y!), attrs: null },
      matmul: { inputs: [a, m], run: ([x, y]) => T.matmul(x!, y!), attrs: null },
      sum: { inputs: [a], run: ([x]) => T.sum(x!, [1], false), attrs: { axes: [1], keepDims: false } },
      max: { inputs: [a], run: ([x]) => T.max(x!, [1], false), attrs: { axes: [1], keepDims: false } },
      reshape: { inputs: [a], run: ([x]) => T.reshape(x!, [3]), attrs: null },
      permute: { inputs: [a], run: ([x]) => T.permute(x!, [1, 0]), attrs: { perm: [1, 0] } },
      slice: { inputs: [a], run: ([x]) => T.slice(x!, [0, 1], [1, 2]), attrs: { begin: [0, 1], size: [1, 2] } },
      concat: { inputs: [a, b], run: ([x, y]) => T.concat([x!, y!], 0), attrs: { axis: 0 } },
      gather: { inputs: [m, ids], run: ([x, i]) => T.gather(x!, i!, 0), attrs: { axis: 0 } },
    };
    for (const [op, c] of Object.entries(cases) as [F.Primitive, (typeof cases)[F.Primitive]][]) {
      const reads = { inputs: false, output: false };
      T.tidy(() => {
        const output = c.run(c.inputs);
        const ctx = {
          get inputs() {
            reads.inputs = true;
            return c.inputs;
          },
          get output() {
            reads.output = true;
            return output;
          },
          shapes: c.inputs.map((x) => x.shape),
          attrs: c.attrs,
          needs: c.inputs.map((x) => x.dtype !== 'int32' && x !== cond),
        };
        const g = T.add(T.mul(output, 0), 1);
        (F.vjps[op] as (g: Tensor, ctx: unknown) => unknown)(g, ctx);
      });
      // Reading more than `saves` says would read a value freed by `internal`.
      if (reads.inputs) expect(F.saves[op].inputs, op).toBe(true);
      if (reads.output) expect(F.saves[op].output, op).toBe(true);
    }
    for (const t of [a, b, m, cond, ids]) t.dispose();
  });
});
