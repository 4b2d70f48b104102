/**
 * The gradient harness shared by the autograd property tests.
 *
 * A `GradCase` is some host inputs and a function of Variables. `checkCase` proves the tape's
 * gradient of that function twice:
 *
 *  1. `gradcheck` in float64 on the CPU: the analytic gradient against central differences;
 *  2. the same function on WebGPU in float32, backpropagated with the same cotangent, against the
 *     float64 gradient of step 1's backend: the GPU's VJP kernels agree with the oracle.
 *
 * Input values are multiples of 1/256 in small ranges, so float32 and float64 start from exactly
 * the same numbers; what is left between them is float32 rounding inside the kernels. Inputs are
 * kept away from the points where an op is not differentiable (log of 0, |x| at 0, ties of max),
 * because there the tape follows a convention and finite differences follow nothing.
 */
import { gradcheck, type Variable, variable } from '@wgru/autograd';
import {
  activeBackend,
  type Backend,
  cpuBackend,
  setBackend,
  shapeString,
  sizeOf,
  type Tensor,
  tensorOn,
  withBackend,
} from '@wgru/tensor';
import fc from 'fast-check';
import { expect } from 'vitest';
import { FC_SEED, webgpuAvailable } from '../../../test-support/backends.js';

export { FC_SEED };

/**
 * The float32 backend under test: WebGPU, or null where no adapter exists (then only the float64
 * checks run); the wasm backend where WGRU_PROPERTY_DUT=wasm (wasm-dut.property.test.ts sets it).
 */
export const gpu: Backend | null =
  process.env.WGRU_PROPERTY_DUT === 'wasm'
    ? await setBackend('wasm').then(() => activeBackend())
    : (await webgpuAvailable())
      ? await setBackend('webgpu').then(() => activeBackend())
      : null;
export const cpu: Backend = cpuBackend();

export interface HostInput {
  shape: number[];
  values: number[];
  /** false: a constant of the graph (gets no gradient); default true. */
  requiresGrad?: boolean;
}

export interface GradCase {
  /** What is checked, for failure messages (op, shapes, arguments). */
  label: string;
  /** The inputs, as Variables in this order; at least one requires grad. */
  inputs: HostInput[];
  /** The computation, written against Variables on whichever backend holds them. */
  fn: (...xs: Variable[]) => Variable;
}

// ---- values ----

/** Multiples of 1/256 in [lo, hi]: exact in float32 and float64 alike. */
export const grid = (lo: number, hi: number): fc.Arbitrary<number> =>
  fc.integer({ min: lo * 256, max: hi * 256 }).map((k) => k / 256);

/** Where input values are drawn from; `distinct` means no two elements of a tensor are equal. */
export type Domain = fc.Arbitrary<number> | 'distinct';

export const anyValue = grid(-2, 2);
export const positive = grid(0.5, 2.5);
/** Away from 0 on both sides (|x|, relu, a denominator, a negative base with an integer power). */
export const nonzero = fc.tuple(fc.boolean(), grid(0.25, 2)).map(([negative, v]) => (negative ? -v : v));
/**
 * Two interleaved grids that never meet (k/128 + 1/512 and k/128 - 1/512): operands of maximum and
 * minimum drawn one from each are at least 1/256 apart, so they never tie.
 */
export const gridAbove = fc.integer({ min: -256, max: 256 }).map((k) => k / 128 + 1 / 512);
export const gridBelow = fc.integer({ min: -256, max: 256 }).map((k) => k / 128 - 1 / 512);

export function valuesFor(shape: readonly number[], domain: Domain): fc.Arbitrary<number[]> {
  const n = sizeOf(shape);
  if (domain === 'distinct') {
    return fc
      .uniqueArray(fc.integer({ min: -512, max: 512 }), { minLength: n, maxLength: n })
      .map((ks) => ks.map((k) => k / 256));
  }
  return fc.array(domain, { minLength: n, maxLength: n });
}

export const inputArb = (shape: readonly number[], domain: Domain): fc.Arbitrary<HostInput> =>
  valuesFor(shape, domain).map((values) => ({ shape: [...shape], values }));

// ---- shapes and axes ----

export const shapeArb = (minRank = 0, maxRank = 3, maxDim = 4): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** A shape that broadcasts to `out` (NumPy rules): some leading axes dropped, some axes of size 1. */
export const broadcastableTo = (out: readonly number[]): fc.Arbitrary<number[]> =>
  fc
    .tuple(
      fc.integer({ min: 0, max: out.length }),
      fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    )
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

/** One axis of a tensor of rank `rank` (>= 1), written either way: 1 or 1 - rank. */
export const axisArb = (rank: number): fc.Arbitrary<number> =>
  fc.tuple(fc.integer({ min: 0, max: rank - 1 }), fc.boolean()).map(([a, negative]) => (negative ? a - rank : a));

/** Reduction axes: all (undefined), one number, or a list in any order with negative entries. */
export function axesArb(rank: number): fc.Arbitrary<number | number[] | undefined> {
  if (rank === 0) return fc.constantFrom<number[] | undefined>(undefined, []);
  const all = Array.from({ length: rank }, (_, i) => i);
  const list = fc
    .shuffledSubarray(all)
    .chain((sub) =>
      fc
        .array(fc.boolean(), { minLength: sub.length, maxLength: sub.length })
        .map((neg) => sub.map((a, i) => (neg[i] ? a - rank : a))),
    );
  return fc.oneof(fc.constant(undefined), axisArb(rank), list);
}

/**
 * The same cases, sometimes with one input frozen (requiresGrad false): the rules' `needs` paths,
 * and an engine that must pass no gradient to a constant.
 */
export function withOneFrozen(cases: fc.Arbitrary<GradCase>): fc.Arbitrary<GradCase> {
  return cases.chain((c) =>
    c.inputs.length < 2
      ? fc.constant(c)
      : fc.option(fc.integer({ min: 0, max: c.inputs.length - 1 }), { freq: 2 }).map((k) =>
          k === null
            ? c
            : {
                ...c,
                label: `${c.label} with input ${k} frozen`,
                inputs: c.inputs.map((h, i) => (i === k ? { ...h, requiresGrad: false } : h)),
              },
        ),
  );
}

export const describeAxes = (axes: number | readonly number[] | undefined): string =>
  axes === undefined ? 'all' : JSON.stringify(axes);

// ---- running a case ----

/** gradcheck's tolerances for float64: the central difference error at eps = 1e-6 is far below. */
export const F64_TOL = { atol: 1e-6, rtol: 1e-6 };

/**
 * float32 against float64: errors relative to the largest gradient (atol · max(1, max|g|)),
 * since a sum of terms of mixed sign can end near zero with an absolute error of its terms' size.
 * 1e-4 is ~800 float32 ulps: enough for a few dozen rounded operations, far from a wrong rule.
 */
export const F32_TOL = { atol: 1e-4, rtol: 1e-4 };

/** A cotangent for `n` output elements: fixed, nonzero, not uniform, exact in float32. */
export function cotangent(n: number): number[] {
  return Array.from({ length: n }, (_, j) => (((j * 37 + 11) % 16) - 7.5) / 8);
}

export interface Outcome {
  shape: number[];
  output: number[];
  grads: number[][];
}

/**
 * Runs `c` on `backend` (float64 on the CPU, float32 on WebGPU) and backpropagates the fixed
 * cotangent. Everything made here is disposed before returning.
 */
export async function runCase(c: GradCase, backend: Backend): Promise<Outcome> {
  const float64 = backend === cpu;
  const xs = c.inputs.map((h) =>
    variable(float64 ? Float64Array.from(h.values) : Float32Array.from(h.values), {
      shape: h.shape,
      requiresGrad: h.requiresGrad ?? true,
      backend,
    }),
  );
  const out = withBackend(backend, () => c.fn(...xs));
  const v = cotangent(out.size);
  const seed: Tensor = tensorOn(backend, float64 ? Float64Array.from(v) : Float32Array.from(v), out.shape);
  if (out.requiresGrad) out.backward(seed);
  const output = Array.from(await out.data());
  xs.forEach((x, i) => {
    if (!x.requiresGrad) expect(x.grad, `${c.label}: a frozen input ${i} got a gradient`).toBeNull();
  });
  const grads = await Promise.all(
    xs.map(async (x) => (x.grad ? Array.from(await x.grad.data()) : new Array<number>(x.size).fill(0))),
  );
  const shape = [...out.shape];
  seed.dispose();
  out.dispose();
  for (const x of xs) x.dispose();
  return { shape, output, grads };
}

/** Elementwise |got - want| <= atol · max(1, max|want|) + rtol · |want|, NaN never close. */
export function expectClose(
  what: string,
  got: readonly number[],
  want: readonly number[],
  tol: { atol: number; rtol: number },
): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  for (let j = 0; j < want.length; j++) {
    const g = got[j];
    const w = want[j];
    const err = Math.abs(g - w);
    if (!(err <= tol.atol * scale + tol.rtol * Math.abs(w))) {
      expect.fail(`${what}: element ${j} is ${g}, want ${w} (error ${err.toExponential(2)}, scale ${scale})`);
    }
  }
}

/**
 * Proves `c`'s gradients: gradcheck in float64, then (with a GPU) the WebGPU float32 gradients
 * and output against the float64 ones for the same cotangent.
 */
export async function checkCase(c: GradCase, f32Tol = F32_TOL): Promise<void> {
  const xs = c.inputs.map((h) =>
    variable(Float64Array.from(h.values), { shape: h.shape, requiresGrad: h.requiresGrad ?? true, backend: cpu }),
  );
  const r = await gradcheck(c.fn, xs, F64_TOL);
  for (const x of xs) x.dispose();
  expect(r.ok, `${c.label}: gradcheck failed, max abs error ${r.maxAbsError}, max rel error ${r.maxRelError}`).toBe(
    true,
  );
  if (gpu === null) return;
  const want = await runCase(c, cpu);
  const got = await runCase(c, gpu);
  expect(got.shape, `${c.label}: output shape on WebGPU`).toEqual(want.shape);
  expectClose(`${c.label}: output on WebGPU`, got.output, want.output, f32Tol);
  got.grads.forEach((g, i) => {
    expectClose(`${c.label}: gradient ${i} on WebGPU`, g, want.grads[i] as number[], f32Tol);
  });
}

/** Runs `checkCase` over an arbitrary of cases with the fixed seed. */
export async function checkAll(cases: fc.Arbitrary<GradCase>, numRuns: number, f32Tol = F32_TOL): Promise<void> {
  await fc.assert(
    fc.asyncProperty(cases, (c) => checkCase(c, f32Tol)),
    { seed: FC_SEED, numRuns },
  );
}

export const label = (op: string, ...args: Array<HostInput | string | number>): string =>
  `${op}(${args.map((a) => (typeof a === 'object' ? shapeString(a.shape) : String(a))).join(', ')})`;
