import { gradcheck, variable, noGrad, softmax } from '@wgru/autograd';
import { cpuBackend, setBackend, tensor } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

const f64 = (values: number[], shape: number[]) =>
  variable(Float64Array.from(values), { shape, requiresGrad: true, backend: cpuBackend() });

it('gradcheck passes for a composite of every kind of primitive', async () => {
  const x = f64([0.3, -0.7, 1.2, 0.1, -0.4, 0.9], [2, 3]);
  const w = f64([0.5, -0.2, 0.1, 0.7, -0.3, 0.4], [3, 2]);
  const b = f64([0.05, -0.1], [2]);
  const r = await gradcheck(
    (x, w, b) =>
      x
        .matmul(w)
        .add(b)
        .tanh()
        .mul(x.slice([0, 0], [2, 2]).sigmoid())
        .logSoftmax(1)
        .sum(),
    [x, w, b],
    { atol: 1e-7, rtol: 1e-6 },
  );
  expect(r.ok).toBe(true);
  expect(r.maxAbsError).toBeLessThan(1e-7);
});

forEachBackend('autograd', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });
  it('accumulates gradients of a value used many times', async () => {
    const x = variable([1, 2, 3], { requiresGrad: true });
    const y = x.mul(x).add(x.mul(3)).sum(); // Σ x² + 3x
    y.backward();
    expect(Array.from(await x.grad!.data())).toEqual([5, 7, 9]);
    expect(await y.item()).toBe(1 + 4 + 9 + 18);
  });
  it('noGrad records nothing', () => {
    const x = variable([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
  });
  it('softmax of large logits is finite', async () => {
    const x = variable(tensor([[1e4, 0, -1e4]]));
    const s = await softmax(x, 1).data();
    expect(Array.from(s)).toEqual([1, 0, 0]);
  });
  it('a deep graph (10,000 steps) backpropagates without recursion', async () => {
    const x = variable([0.5], { requiresGrad: true });
    let h = x;
    for (let i = 0; i < 10000; i++) h = h.mul(1);
    h.sum().backward();
    expect(Array.from(await x.grad!.data())).toEqual([1]);
  });
});
