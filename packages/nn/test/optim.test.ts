import { type Variable, variable } from '@wgru/autograd';
import { engineStats, memory, setBackend, tensor } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';
import { Linear } from '../src/layers/linear.js';
import { CrossEntropyLoss } from '../src/losses.js';
import { Module, Parameter } from '../src/module.js';
import { Adam, AdamW } from '../src/optim/adam.js';
import { clipGradNorm } from '../src/optim/clip.js';
import type { Optimizer } from '../src/optim/optimizer.js';
import { SGD } from '../src/optim/sgd.js';

// ---------------------------------------------------------------------------------------------
// Reference algorithms in plain JS (float64), transcribed from torch.optim's documentation
// ---------------------------------------------------------------------------------------------

interface SgdRef {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** θ after each step of torch.optim.SGD, for a sequence of gradients. */
function sgdReference(theta0: number[], grads: number[][], o: SgdRef): number[][] {
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = o;
  const theta = [...theta0];
  let buf: number[] | null = null;
  const out: number[][] = [];
  for (const grad of grads) {
    let g = grad.map((gi, i) => gi + weightDecay * theta[i]);
    if (momentum !== 0) {
      const prev: number[] | null = buf;
      const b: number[] = prev === null ? [...g] : prev.map((bi, i) => momentum * bi + (1 - dampening) * g[i]);
      buf = b;
      g = nesterov ? g.map((gi, i) => gi + momentum * b[i]) : b;
    }
    for (let i = 0; i < theta.length; i++) theta[i] = theta[i] - lr * g[i];
    out.push([...theta]);
  }
  return out;
}

interface AdamRef {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  decoupled?: boolean;
}

/** θ after each step of torch.optim.Adam (or AdamW with `decoupled`). */
function adamReference(theta0: number[], grads: number[][], o: AdamRef): number[][] {
  const { lr = 1e-3, betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, amsgrad = false, decoupled = false } = o;
  const weightDecay = o.weightDecay ?? (decoupled ? 1e-2 : 0);
  const theta = [...theta0];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  const vMax = theta.map(() => 0);
  const out: number[][] = [];
  grads.forEach((grad, step) => {
    const t = step + 1;
    for (let i = 0; i < theta.length; i++) {
      let g = grad[i];
      if (decoupled) theta[i] = theta[i] * (1 - lr * weightDecay);
      else g += weightDecay * theta[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mHat = m[i] / (1 - b1 ** t);
      let second = v[i];
      if (amsgrad) {
        vMax[i] = Math.max(vMax[i], second);
        second = vMax[i];
      }
      const vHat = second / (1 - b2 ** t);
      theta[i] = theta[i] - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
    out.push([...theta]);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const THETA0 = [0.5, -1.25, 2, 0.1, -0.3, 0.75];
const GRADS = [
  [0.1, -0.2, 0.3, -0.4, 0.5, 0.05],
  [0.3, 0.1, -0.5, -0.2, 0.25, -0.6],
  [-0.2, 0.4, 0.1, 0.7, -0.15, 0.3],
  [0.05, -0.35, 0.2, 0.1, 0.6, -0.05],
];

function param(values: number[], shape: number[]): Parameter {
  return new Parameter(tensor(values, shape));
}

function setGrad(p: Parameter, values: number[]): void {
  p.zeroGrad();
  p.grad = tensor(values, p.shape);
}

/** Runs `opt` over GRADS on one [2, 3] parameter, returning θ after every step. */
async function run(make: (params: Parameter[]) => Optimizer<object>): Promise<number[][]> {
  const p = param(THETA0, [2, 3]);
  const opt = make([p]);
  const out: number[][] = [];
  for (const g of GRADS) {
    setGrad(p, g);
    opt.step();
    out.push(Array.from(await p.data()));
  }
  opt.dispose();
  p.dispose();
  return out;
}

function expectClose(actual: number[][], expected: number[][], tol = 2e-6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, s) => {
    row.forEach((a, i) => {
      const e = (expected[s] as number[])[i];
      if (Math.abs(a - e) > tol * (1 + Math.abs(e)))
        throw new Error(`step ${s + 1}, element ${i}: got ${a}, expected ${e}`);
    });
  });
}

/** A 2 → hidden → out MLP with tanh, from Linear layers. */
class Mlp extends Module {
  a: Linear;
  b: Linear;
  constructor(inputs: number, hidden: number, outputs: number, seed: number) {
    super();
    this.a = new Linear(inputs, hidden, { seed });
    this.b = new Linear(hidden, outputs, { seed: seed + 10 });
  }
  forward(x: Variable): Variable {
    return this.b.forward(this.a.forward(x).tanh());
  }
}

function mse(pred: Variable, target: Variable): Variable {
  return pred.sub(target).square().mean();
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

forEachBackend('optimizers', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  describe('SGD matches torch.optim.SGD step by step', () => {
    const cases: Array<[string, SgdRef]> = [
      ['plain', { lr: 0.1 }],
      ['weight decay', { lr: 0.1, weightDecay: 0.05 }],
      ['momentum', { lr: 0.1, momentum: 0.9 }],
      ['momentum with dampening and weight decay', { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.1 }],
      ['nesterov', { lr: 0.1, momentum: 0.9, nesterov: true }],
      ['nesterov with weight decay', { lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.2 }],
    ];
    for (const [label, o] of cases) {
      it(label, async () => {
        expectClose(await run((ps) => new SGD(ps, o)), sgdReference(THETA0, GRADS, o));
      });
    }
  });

  describe('Adam and AdamW match torch.optim step by step', () => {
    const cases: Array<[string, AdamRef]> = [
      ['Adam, defaults', {}],
      ['Adam, lr 0.1 and betas', { lr: 0.1, betas: [0.8, 0.99] }],
      ['Adam, L2 weight decay', { lr: 0.05, weightDecay: 0.1 }],
      ['Adam, amsgrad', { lr: 0.1, amsgrad: true }],
      ['AdamW, defaults (weightDecay 1e-2)', { decoupled: true }],
      ['AdamW, lr 0.1, weight decay 0.1, amsgrad', { decoupled: true, lr: 0.1, weightDecay: 0.1, amsgrad: true }],
    ];
    for (const [label, o] of cases) {
      it(label, async () => {
        const { decoupled, ...opts } = o;
        const make = (ps: Parameter[]) => (decoupled ? new AdamW(ps, opts) : new Adam(ps, opts));
        expectClose(await run(make), adamReference(THETA0, GRADS, o));
      });
    }
  });

  it('skips parameters without a gradient, and counts steps per parameter', async () => {
    const a = param([1, 2], [2]);
    const b = param([3, 4], [2]);
    const opt = new Adam([a, b], { lr: 0.1 });
    setGrad(a, [0.5, -0.5]);
    opt.step(); // b has no grad: unchanged, no state
    expect(Array.from(await b.data())).toEqual([3, 4]);
    setGrad(a, [0.2, 0.1]);
    setGrad(b, [0.2, 0.1]);
    opt.step(); // a's 2nd step, b's 1st
    expectClose([Array.from(await b.data())], adamReference([3, 4], [[0.2, 0.1]], { lr: 0.1 }).slice(-1));
    expectClose(
      [Array.from(await a.data())],
      adamReference(
        [1, 2],
        [
          [0.5, -0.5],
          [0.2, 0.1],
        ],
        { lr: 0.1 },
      ).slice(-1),
    );
    opt.dispose();
  });

  it('reads nothing back from the device and records no graph', () => {
    const p = param(THETA0, [6]);
    const opt = new AdamW([p], { lr: 0.01, amsgrad: true });
    setGrad(p, GRADS[0] as number[]);
    const reads = engineStats().reads;
    opt.step();
    opt.step();
    expect(engineStats().reads).toBe(reads);
    expect(p.isLeaf).toBe(true);
    expect(p.requiresGrad).toBe(true);
    opt.dispose();
  });

  it('clipGradNorm scales by the global L2 norm with one read', async () => {
    const a = param([0, 0, 0], [3]);
    const b = param([0, 0], [2, 1]);
    const c = param([0], [1]); // no grad: skipped
    setGrad(a, [3, -4, 12]);
    setGrad(b, [0, 84]);
    const norm = Math.sqrt(9 + 16 + 144 + 84 * 84); // 85
    const reads = engineStats().reads;
    const got = await clipGradNorm([a, b, c], 17);
    expect(engineStats().reads - reads).toBe(1);
    expect(got).toBeCloseTo(norm, 4);
    const f = 17 / (norm + 1e-6);
    expectClose(
      [Array.from(await a.grad!.data()), Array.from(await b.grad!.data())],
      [
        [3 * f, -4 * f, 12 * f],
        [0, 84 * f],
      ],
    );
    expect(c.grad).toBeNull();
    // Below the limit, the gradients are left as they are.
    expect(await clipGradNorm([a, b], 100)).toBeCloseTo(17, 4);
    expectClose([Array.from(await a.grad!.data())], [[3 * f, -4 * f, 12 * f]]);
  });

  it('clipGradNorm with the infinity norm and with p = 1', async () => {
    const a = param([0, 0, 0], [3]);
    const b = param([0, 0], [2]);
    setGrad(a, [1, -6, 2]);
    setGrad(b, [4, -3]);
    expect(await clipGradNorm([a, b], 3, Number.POSITIVE_INFINITY)).toBe(6);
    expectClose([Array.from(await a.grad!.data())], [[0.5, -3, 1]], 1e-5);
    setGrad(a, [1, -6, 2]);
    setGrad(b, [4, -3]);
    expect(await clipGradNorm([a, b], 8, 1)).toBeCloseTo(16, 4);
    expectClose([Array.from(await b.grad!.data())], [[2, -1.5]], 1e-5);
  });

  it('a gradient shared by two parameters is clipped once each (grads may alias)', async () => {
    const a = variable([1, 2], { requiresGrad: true });
    const b = variable([3, 4], { requiresGrad: true });
    a.add(b)
      .mul(variable([3, 4]))
      .sum()
      .backward(); // both grads are [3, 4]
    expect(await clipGradNorm([a, b], 5)).toBeCloseTo(Math.sqrt(50), 4);
    const f = 5 / (Math.sqrt(50) + 1e-6);
    expectClose(
      [Array.from(await a.grad!.data()), Array.from(await b.grad!.data())],
      [
        [3 * f, 4 * f],
        [3 * f, 4 * f],
      ],
    );
  });

  it('a tiny MLP (2 → 8 → 1, tanh) learns XOR with Adam', async () => {
    const model = new Mlp(2, 8, 1, 3);
    const opt = new Adam(model.parameters(), { lr: 0.05 });
    const x = variable([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    const y = variable([[0], [1], [1], [0]]);
    for (let i = 0; i < 300; i++) {
      opt.zeroGrad();
      const loss = mse(model.forward(x), y);
      loss.backward();
      loss.dispose();
      opt.step();
    }
    const loss = mse(model.forward(x), y);
    expect(await loss.item()).toBeLessThan(1e-3);
    const pred = Array.from(await model.forward(x).data());
    expect(pred.map((p) => p > 0.5)).toEqual([false, true, true, false]);
    opt.dispose();
  });

  it('Linear + CrossEntropyLoss fits a linearly separable problem with SGD', async () => {
    // Three well separated clusters in the plane.
    const centres = [
      [2, 0],
      [-1, 2],
      [-1, -2],
    ];
    const points: number[][] = [];
    const labels: number[] = [];
    for (let k = 0; k < 3; k++) {
      for (const [dx, dy] of [
        [0.3, 0.1],
        [-0.2, 0.4],
        [0.1, -0.3],
        [-0.4, -0.2],
      ]) {
        const c = centres[k] as number[];
        points.push([c[0] + dx, c[1] + dy]);
        labels.push(k);
      }
    }
    const x = variable(points);
    const targets = tensor(labels, [labels.length], 'int32');
    const model = new Linear(2, 3, { seed: 5 });
    const ce = new CrossEntropyLoss();
    const opt = new SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
    const first = ce.forward(model.forward(x), targets);
    const initial = await first.item();
    first.dispose();
    for (let i = 0; i < 100; i++) {
      opt.zeroGrad();
      const loss = ce.forward(model.forward(x), targets);
      loss.backward();
      loss.dispose();
      opt.step();
    }
    const final = await ce.forward(model.forward(x), targets).item();
    expect(final).toBeLessThan(0.05);
    expect(final).toBeLessThan(initial / 10);
    const logits = (await model.forward(x).array()) as number[][];
    expect(logits.map((row) => row.indexOf(Math.max(...row)))).toEqual(labels);
    opt.dispose();
  });

  it('optimizer steps leak no tensors (50 steps, then 50 more with clipping)', async () => {
    const model = new Mlp(2, 4, 2, 7);
    const x = variable([
      [0.5, -1],
      [1, 2],
      [-0.3, 0.8],
    ]);
    const y = variable([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    const trainStep = (opt: Optimizer<object>): void => {
      opt.zeroGrad();
      const loss = mse(model.forward(x), y);
      loss.backward();
      loss.dispose();
      opt.step();
    };
    for (const make of [
      (ps: Parameter[]) => new SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
      (ps: Parameter[]) => new Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 1e-3 }),
      (ps: Parameter[]) => new AdamW(ps, { lr: 0.01 }),
    ]) {
      const opt = make(model.parameters());
      // Synchronous, so that no FinalizationRegistry callback (which frees tensors the garbage
      // collector found unreachable) can run in between: the count is exact.
      trainStep(opt); // creates the optimizer state
      trainStep(opt); // and frees what earlier tests' module outputs still held (see docs/lifetimes.md)
      const before = memory().liveTensors;
      for (let i = 0; i < 50; i++) trainStep(opt);
      expect(memory().liveTensors).toBe(before);
      // With clipGradNorm, which awaits its read: garbage left by earlier tests may be finalized
      // meanwhile, which can only lower the count, so a leak shows as growth.
      for (let i = 0; i < 50; i++) {
        opt.zeroGrad();
        const loss = mse(model.forward(x), y);
        loss.backward();
        loss.dispose();
        await clipGradNorm(model.parameters(), 0.1);
        opt.step();
      }
      expect(memory().liveTensors).toBeLessThanOrEqual(before);
      opt.zeroGrad();
      opt.dispose();
    }
  });
});

describe('optimizer options are validated', () => {
  beforeAll(async () => {
    await setBackend('cpu');
  });
  const p = () => [new Parameter(tensor([1, 2]))];

  it('names the optimizer and the option', () => {
    expect(() => new SGD(p(), { lr: -1 })).toThrow(/SGD: lr must be .*got -1/);
    expect(() => new SGD(p(), { lr: 0.1, momentum: -0.5 })).toThrow(/SGD: momentum/);
    expect(() => new SGD(p(), { lr: 0.1, nesterov: true })).toThrow(/SGD: nesterov needs momentum > 0 and dampening 0/);
    expect(() => new SGD(p(), { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/SGD: nesterov/);
    expect(() => new SGD(p(), { lr: 0.1, learningRate: 0.1 } as never)).toThrow(/SGD: unknown option 'learningRate'/);
    expect(() => new Adam(p(), { betas: [1, 0.999] })).toThrow(/Adam: betas\[0\] must be .*\[0, 1\)/);
    expect(() => new Adam(p(), { betas: [0.9, -0.1] })).toThrow(/Adam: betas\[1\]/);
    expect(() => new Adam(p(), { betas: [0.9] as never })).toThrow(/Adam: betas must be a pair/);
    expect(() => new Adam(p(), { eps: -1e-8 })).toThrow(/Adam: eps/);
    expect(() => new AdamW(p(), { weightDecay: -1 })).toThrow(/AdamW: weightDecay/);
    expect(() => new AdamW(p(), { lr: Number.NaN })).toThrow(/AdamW: lr/);
    expect(() => new AdamW(p(), { amsgrad: 1 } as never)).toThrow(/AdamW: amsgrad must be true or false/);
    expect(() => new Adam(p(), { foo: 1 } as never)).toThrow(/Adam: unknown option 'foo'/);
  });

  it('takes any leaf Variable, as torch.optim; checks the parameter list', async () => {
    const v = variable([1, 2], { requiresGrad: true });
    const sgd = new SGD([v], { lr: 0.1 });
    v.mul(v).sum().backward(); // d/dv = 2v
    sgd.step();
    expect(Array.from(await v.data())).toEqual([Math.fround(1 - 0.2), Math.fround(2 - 0.4)]);
    expect(() => new SGD([v.mul(2)], { lr: 0.1 })).toThrow(/SGD: params\[0\] was made by an op \(mul\), not created/);
    expect(() => new SGD([42 as never], { lr: 0.1 })).toThrow(/SGD: params\[0\] must be a Parameter or Variable/);
    expect(() => new Adam([])).toThrow(/Adam: got an empty parameter list/);
    const q = p()[0] as Parameter;
    expect(() => new Adam([q, q])).toThrow(/Adam: params\[1\] appears more than once/);
    expect(() => new Adam(42 as never)).toThrow(/Adam: params must be an array/);
    expect(() => new Adam([new Parameter(tensor([1], [1], 'int32'))])).toThrow(/int32/);
  });

  it('lr can be changed between steps, and is checked', async () => {
    const q = new Parameter(tensor([1, 2]));
    const opt = new SGD([q], { lr: 0.1 });
    q.grad = tensor([1, 1]);
    opt.lr = 1;
    opt.step();
    expect(Array.from(await q.data())).toEqual([0, 1]);
    expect(() => {
      opt.lr = -0.5;
    }).toThrow(/SGD: lr/);
  });

  it('rejects a gradient of the wrong shape, and bad clipGradNorm arguments', async () => {
    const q = new Parameter(tensor([1, 2]));
    q.grad = tensor([1, 2, 3]);
    expect(() => new SGD([q], { lr: 0.1 }).step()).toThrow(
      /SGD: the gradient of params\[0\] has shape \[3\] but the parameter has shape \[2\]/,
    );
    await expect(clipGradNorm([q], -1)).rejects.toThrow(/clipGradNorm: maxNorm/);
    await expect(clipGradNorm([q], 1, 0)).rejects.toThrow(/clipGradNorm: normType/);
    await expect(clipGradNorm([{} as Parameter], 1)).rejects.toThrow(/clipGradNorm: params\[0\]/);
    expect(await clipGradNorm([new Parameter(tensor([1]))], 1)).toBe(0); // no gradients at all
  });

  it('keeps float64 parameters in float64 on the CPU backend', async () => {
    const q = new Parameter(tensor(Float64Array.from([1, 2]), [2]));
    q.grad = tensor(Float64Array.from([0.5, 0.25]), [2]);
    const opt = new Adam([q], { lr: 0.1 });
    opt.step();
    expect(q.dtype).toBe('float64');
    const expected = adamReference([1, 2], [[0.5, 0.25]], { lr: 0.1 })[0] as number[];
    const got = Array.from(await q.data());
    got.forEach((g, i) => {
      expect(g).toBeCloseTo(expected[i], 12);
    });
  });
});
