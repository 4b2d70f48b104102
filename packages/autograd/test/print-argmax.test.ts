/**
 * Variables print their values (NumPy-style, with shape, dtype, where they live, requiresGrad and
 * the op that made them), and argmax / argmin give int32 indices without gradient, as PyTorch's:
 * with no axis the index into the flattened values, else along the axis, kept with keepDims.
 * Checked against plain host loops on random shapes.
 */
import { inspect } from 'node:util';
import { argmax, argmin, variable } from '@wgru/autograd';
import { setBackend } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';

/** Host argmax / argmin along `axis` of a row-major array (first index on ties). */
function hostArg(values: number[], shape: number[], axis: number, largest: boolean): number[] {
  const n = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = values.length / (n * inner);
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let best = 0;
      for (let k = 1; k < n; k++) {
        const v = values[(o * n + k) * inner + i];
        const b = values[(o * n + best) * inner + i];
        if (largest ? v > b : v < b) best = k;
      }
      out.push(best);
    }
  return out;
}

forEachBackend('Variable printing and argmax', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('prints its values, shape, dtype, backend, requiresGrad and the op that made it', async () => {
    const w = variable(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    const h = w.mul(0.5);
    const whole = `Variable([[1., 2.],\n          [3., 4.]], shape [2, 2], float32, ${name}, requiresGrad)`;
    expect(await w.format()).toBe(whole);
    expect(await h.format()).toBe(
      `Variable([[0.5, 1.0],\n          [1.5, 2.0]], shape [2, 2], float32, ${name}, requiresGrad, made by mul)`,
    );
    expect(inspect(w)).toBe(w.toString());
    if (name !== 'webgpu') {
      // host memory (cpu, wasm): the values print at once
      expect(String(w)).toBe(whole);
      expect(String(h)).toContain('made by mul');
    } else {
      expect(String(h)).toBe(
        'Variable(shape [2, 2], float32, webgpu, requiresGrad, made by mul, values on the device: console.log(await v.format()) prints them)',
      );
    }
    // After the next backward: the loss's number on the host, the values freed.
    const loss = h.sum();
    loss.backward();
    w.mul(1).sum().backward();
    expect(await loss.item()).toBe(5);
    expect(String(loss)).toBe('Variable(5., shape [], float32, host, requiresGrad)');
    expect(String(h)).toBe('Variable(shape [2, 2], value freed by backward() (it was made by mul))');
    w.dispose();
    expect(String(w)).toBe('Variable(value freed)');
  });

  it('argmax / argmin agree with host loops on random shapes: flattened, along an axis, keepDims', async () => {
    const cases = fc.sample(
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }).chain((shape) =>
        fc.tuple(
          fc.constant(shape),
          fc.array(fc.integer({ min: -20, max: 20 }), {
            minLength: shape.reduce((a, b) => a * b, 1),
            maxLength: shape.reduce((a, b) => a * b, 1),
          }),
          fc.integer({ min: -shape.length, max: shape.length - 1 }),
        ),
      ),
      { seed: FC_SEED, numRuns: 12 },
    );
    for (const [shape, values, axis] of cases) {
      const x = variable(Float32Array.from(values), { shape, requiresGrad: true });
      const flatMax = hostArg(values, [values.length], 0, true)[0];
      const flatMin = hostArg(values, [values.length], 0, false)[0];
      const a = x.argmax();
      expect(a.shape).toEqual([]);
      expect(a.dtype).toBe('int32');
      expect(a.requiresGrad).toBe(false);
      expect(await a.item()).toBe(flatMax);
      expect(await argmin(x).item()).toBe(flatMin);
      expect(x.argmax(undefined, true).shape).toEqual(shape.map(() => 1));
      const along = (axis + shape.length) % shape.length;
      const kept = shape.map((d, i) => (i === along ? 1 : d));
      const byAxis = x.argmax(axis, true);
      expect(byAxis.shape).toEqual(kept);
      expect(Array.from(await byAxis.data())).toEqual(hostArg(values, shape, along, true));
      expect(Array.from(await argmin(x, axis).data())).toEqual(hostArg(values, shape, along, false));
      expect(argmax(x, axis).shape).toEqual(shape.filter((_, i) => i !== along));
      x.dispose();
    }
  });

  it('argmax takes no part in gradients, and rejects a bad axis naming the op and the shape', async () => {
    const x = variable(
      [
        [0.1, 0.9],
        [0.8, 0.2],
      ],
      { requiresGrad: true },
    );
    const i = x.argmax(1);
    expect(i.isLeaf).toBe(true);
    expect(i.requiresGrad).toBe(false);
    expect(() => {
      i.requiresGrad = true;
    }).toThrow(/int32 Variable \[2\] cannot require grad/);
    expect(() => x.argmax(2)).toThrow(/^argmax: axis 2 is out of range/);
    expect(() => x.argmin(0.5)).toThrow(/^argmin: axis must be an integer or undefined, got 0.5 \(x \[2, 2\]\)/);
    expect(() => argmax(variable(new Float32Array(0), { shape: [0] }))).toThrow(/^argmax: x \[0\] is empty/);
    expect(await i.array()).toEqual([1, 0]);
  });
});
