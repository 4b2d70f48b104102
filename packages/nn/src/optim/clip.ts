/**
 * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_.
 * @module
 */
import { Variable } from '@wgru/autograd';
import { abs, add, div, keep, max, maximum, minimum, mul, pow, sqrt, sum, type Tensor, tidy } from '@wgru/tensor';
import { checkNumber, describe } from './optimizer.js';

/**
 * Scales the gradients of `params` so that their global norm is at most `maxNorm`, and returns
 * the global norm before clipping. The norm is over all gradients together, as if they were one
 * vector: (Σ |g|^p)^(1/p), or max |g| for `normType = Infinity`. Every gradient is multiplied by
 * min(1, maxNorm / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_ does. Parameters whose
 * `grad` is null are skipped.
 *
 * Everything runs on the device, and the scaling does not wait for the norm to reach the host:
 * the one host read is the returned number. Each `grad` is replaced by its scaled copy (the old
 * tensor is disposed) rather than written in place, because backward may hand the same storage
 * to several gradients.
 *
 * @example
 * ```ts
 * const model = new Linear(4, 2, { seed: 0 });
 * const opt = new SGD(model.parameters(), { lr: 0.1 });
 * model.forward(variable(randn([8, 4], { seed: 1 }))).square().sum().backward();
 * const norm = await clipGradNorm(model.parameters(), 1.0);   // the norm before: now it is ≤ 1
 * opt.step();
 * ```
 */
export async function clipGradNorm(params: Iterable<Variable>, maxNorm: number, normType = 2): Promise<number> {
  const owner = 'clipGradNorm';
  if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
    throw new Error(`${owner}: params must be an array (or iterable) of Parameters, got ${describe(params)}`);
  }
  const list = [...params];
  list.forEach((p, i) => {
    if (!(p instanceof Variable))
      throw new Error(`${owner}: params[${i}] must be a Parameter or Variable, got ${describe(p)}`);
  });
  checkNumber(owner, 'maxNorm', maxNorm, { min: 0 });
  if (
    !(
      normType === Number.POSITIVE_INFINITY ||
      (typeof normType === 'number' && Number.isFinite(normType) && normType > 0)
    )
  ) {
    throw new Error(`${owner}: normType must be a positive number or Infinity, got ${describe(normType)}`);
  }
  const owners = [...new Set(list)].filter((p) => p.grad !== null && p.grad.size > 0);
  if (owners.length === 0) return 0;

  const total = tidy(() => {
    // Σ|g|^p (or max|g|) per gradient, combined on the device.
    let acc: Tensor | null = null;
    for (const p of owners) {
      const g = p.grad as Tensor;
      const part =
        normType === Number.POSITIVE_INFINITY
          ? max(abs(g))
          : normType === 2
            ? sum(mul(g, g))
            : sum(pow(abs(g), normType));
      acc = acc === null ? part : normType === Number.POSITIVE_INFINITY ? maximum(acc, part) : add(acc, part);
    }
    const sumOrMax = acc as Tensor;
    const norm =
      normType === Number.POSITIVE_INFINITY ? sumOrMax : normType === 2 ? sqrt(sumOrMax) : pow(sumOrMax, 1 / normType);
    const factor = minimum(div(maxNorm, add(norm, 1e-6)), 1); // a scalar on the device
    for (const p of owners) {
      const scaled = keep(mul(p.grad as Tensor, factor)); // outlives this tidy
      p.grad?.dispose();
      p.grad = scaled;
    }
    return norm;
  });
  const value = (await total.data())[0];
  total.dispose();
  return value;
}
