import { cpuBackend, type CpuStorage, mul, sum, type Tensor, tensorOn, tidy, uniform, withBackend } from '@wgru/tensor';
import { noGrad } from './graph.js';
import { Variable } from './variable.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3), as in torch.autograd.gradcheck: |a - n| <= atol + rtol |n|. */
  rtol?: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
}

const OPTIONS = new Set(['eps', 'atol', 'rtol']);

/** The float64 elements of a CPU tensor, and where element j (row-major) sits in them. */
function cells(t: Tensor): { array: Float64Array; at: (j: number) => number } {
  const array = (t.storage as CpuStorage).array as Float64Array;
  return {
    array,
    at: (j) => {
      let rem = j;
      let off = t.offset;
      for (let d = t.rank - 1; d >= 0; d--) {
        const n = t.shape[d];
        off += (rem % n) * t.strides[d];
        rem = Math.floor(rem / n);
      }
      return off;
    },
  };
}

/**
 * Checks the tape's gradients of `fn` against central finite differences, in float64 on the CPU
 * backend. Inputs that are already float64 CPU Variables are perturbed in place (so `fn` may also
 * close over them, as over a module's parameters); others are copied to float64 first. Only inputs
 * with `requiresGrad` are checked. `fn`'s output is projected on a fixed random cotangent. The
 * active backend is left as it was.
 *
 * @example
 * ```ts
 * const x = variable([0.5, -1.5], { requiresGrad: true });
 * const { ok } = await gradcheck((v) => v.tanh().mul(v).sum(), [x]);
 * ```
 */
export async function gradcheck(
  fn: (...xs: Variable[]) => Variable,
  inputs: Variable[],
  opts: GradcheckOptions = {},
): Promise<GradcheckResult> {
  if (typeof fn !== 'function') throw new Error('gradcheck: fn must be a function');
  if (!Array.isArray(inputs) || !inputs.every((x) => x instanceof Variable))
    throw new Error('gradcheck: inputs must be a list of Variables');
  for (const k of Object.keys(opts)) if (!OPTIONS.has(k)) throw new Error(`gradcheck: unknown option '${k}'`);
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  if (!inputs.some((x) => x.requiresGrad)) throw new Error('gradcheck: no input requires grad');
  const cpu = cpuBackend();

  const work: Variable[] = [];
  for (const x of inputs) {
    if (x.value.backend === cpu && x.dtype === 'float64') work.push(x);
    else
      work.push(
        new Variable(tensorOn(cpu, Float64Array.from(await x.value.data()), x.shape, 'float64'), x.requiresGrad),
      );
  }
  const checked = work.filter((x) => x.requiresGrad);
  const savedGrads = checked.map((x) => x.grad);
  for (const x of checked) x.grad = null;

  return withBackend(cpu, () => {
    // Analytic: backward of <fn(x), v> for a fixed random cotangent v.
    const out0 = fn(...work);
    if (!(out0 instanceof Variable)) throw new Error('gradcheck: fn must return a Variable');
    const v = tidy(() =>
      tensorOn(
        cpu,
        Float64Array.from(cells(uniform(out0.shape, -1, 1, { seed: 7 })).array.slice(0, out0.size)),
        out0.shape,
        'float64',
      ),
    );
    const projected = (o: Variable): number =>
      tidy(() => {
        const s = sum(mul(o.value, v));
        return (s.storage as CpuStorage).array[s.offset];
      });
    if (out0.requiresGrad) out0.backward(v);
    const analytic = checked.map((x) => x.grad);

    let maxAbsError = 0;
    let maxRelError = 0;
    let ok = true;
    noGrad(() => {
      checked.forEach((x, i) => {
        const { array, at } = cells(x.value);
        const g = analytic[i];
        const ga = g ? cells(g) : null;
        for (let j = 0; j < x.size; j++) {
          const k = at(j);
          const orig = array[k];
          array[k] = orig + eps;
          const fPlus = tidy(() => projected(fn(...work)));
          array[k] = orig - eps;
          const fMinus = tidy(() => projected(fn(...work)));
          array[k] = orig;
          const numeric = (fPlus - fMinus) / (2 * eps);
          const a = ga ? ga.array[ga.at(j)] : 0;
          const err = Math.abs(a - numeric);
          maxAbsError = Math.max(maxAbsError, err);
          maxRelError = Math.max(maxRelError, err / Math.max(Math.abs(numeric), Math.abs(a), 1e-12));
          if (!(err <= atol + rtol * Math.abs(numeric))) ok = false;
        }
      });
    });
    v.dispose();
    checked.forEach((x, i) => {
      x.grad?.dispose();
      x.grad = savedGrads[i] ?? null;
    });
    return { ok, maxAbsError, maxRelError };
  });
}
