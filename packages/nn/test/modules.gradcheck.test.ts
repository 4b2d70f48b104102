import { gradcheck, type Variable, variable } from '@wgru/autograd';
import { CrossEntropyLoss, Embedding, Linear, LogSoftmax, MSELoss, Softmax } from '@wgru/nn';
import { cpuBackend, tensorOn } from '@wgru/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FC_SEED } from '../../../test-support/backends.js';

// Every module's parameter (and input) gradients against central finite differences, in float64
// on the CPU backend, on random shapes. Modules are built in float64 on the CPU, so gradcheck
// perturbs their parameters in place and `fn` may close over them.
const cpu = cpuBackend();
const f64 = { backend: cpu, dtype: 'float64' as const };
const TOL = { atol: 1e-6, rtol: 1e-6 };

/** A float64 CPU Variable of `shape` with values in [-1, 1] from a seeded stream. */
function input(shape: number[], seed: number, requiresGrad = true): Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed >>> 0;
  const values = Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
  return variable(values, { shape, dtype: 'float64', requiresGrad, backend: cpu });
}

function targets(n: number, classes: number, seed: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes);
}

const dims = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  i: fc.integer({ min: 1, max: 4 }),
  o: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer({ min: 0, max: 10_000 }),
});

describe('module gradients (gradcheck, float64)', () => {
  it('Linear: W, b and the input, with and without bias, batched inputs of any rank', async () => {
    await fc.assert(
      fc.asyncProperty(dims, fc.boolean(), fc.integer({ min: 0, max: 1 }), async ({ n, i, o, seed }, bias, extra) => {
        const fc1 = new Linear(i, o, { bias, seed, ...f64 });
        const x = input(extra ? [2, n, i] : [n, i], seed + 1);
        const r = await gradcheck((xv) => fc1.forward(xv).tanh(), [x, ...fc1.parameters()], TOL);
        expect(r.ok, `maxAbsError ${r.maxAbsError}`).toBe(true);
      }),
      { seed: FC_SEED, numRuns: 15 },
    );
  });

  it('Embedding: the rows used get their gradients, repeated indices accumulate', async () => {
    await fc.assert(
      fc.asyncProperty(dims, async ({ n, i, o, seed }) => {
        const emb = new Embedding(o + 1, i, { seed, ...f64 });
        const ids = tensorOn(
          cpu,
          Int32Array.from({ length: 2 * n }, (_, k) => (k * 3 + seed) % (o + 1)),
          [2, n],
          'int32',
        );
        const w = input([2, n, i], seed + 2, false);
        const r = await gradcheck(() => emb.forward(ids).mul(w).sum(), emb.parameters(), TOL);
        expect(r.ok, `maxAbsError ${r.maxAbsError}`).toBe(true);
      }),
      { seed: FC_SEED, numRuns: 10 },
    );
  });

  it('CrossEntropyLoss: every reduction, label smoothing and ignoreIndex, through a Linear', async () => {
    const options = fc.record({
      reduction: fc.constantFrom<'mean' | 'sum' | 'none'>('mean', 'sum', 'none'),
      labelSmoothing: fc.constantFrom(0, 0.1, 0.5),
      ignore: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(dims, options, async ({ n, i, o, seed }, { reduction, labelSmoothing, ignore }) => {
        const C = o + 1;
        const head = new Linear(i, C, { seed, ...f64 });
        const t = targets(n + 1, C, seed);
        const loss = new CrossEntropyLoss({
          reduction,
          labelSmoothing,
          ...(ignore ? { ignoreIndex: t[0] } : {}),
        });
        const x = input([n + 1, i], seed + 3);
        const y = tensorOn(cpu, t, [n + 1], 'int32');
        const r = await gradcheck((xv) => loss.forward(head.forward(xv).mul(3), y), [x, ...head.parameters()], TOL);
        expect(r.ok, `maxAbsError ${r.maxAbsError}`).toBe(true);
      }),
      { seed: FC_SEED, numRuns: 20 },
    );
  });

  it('MSELoss, Softmax and LogSoftmax modules', async () => {
    await fc.assert(
      fc.asyncProperty(
        dims,
        fc.constantFrom<'mean' | 'sum' | 'none'>('mean', 'sum', 'none'),
        async ({ n, i, seed }, reduction) => {
          const a = input([n, i], seed);
          const b = input([n, i], seed + 5);
          const mse = new MSELoss({ reduction });
          const soft = new Softmax(-1);
          const logSoft = new LogSoftmax(0);
          const r = await gradcheck(
            (p, q) => mse.forward(soft.forward(p.mul(2)), logSoft.forward(q).exp()),
            [a, b],
            TOL,
          );
          expect(r.ok, `maxAbsError ${r.maxAbsError}`).toBe(true);
        },
      ),
      { seed: FC_SEED, numRuns: 15 },
    );
  });
});
