import { type Backend, uniform, randn, withBackend, cast, type DType } from '@wgru/tensor';
import { Parameter } from './module.js';

/** Options every layer with parameters accepts. */
export interface InitOptions {
  /** Seed for this layer's initial values (default: the global random stream, see manualSeed). */
  seed?: number;
  /** Backend to create the parameters on (default: the active backend). */
  backend?: Backend;
  /** float32 (default) or float64 (CPU only; for gradient checks). */
  dtype?: DType;
}

function onBackend<T>(opts: InitOptions, fn: () => T): T {
  return opts.backend ? withBackend(opts.backend, fn) : fn();
}

function withDType(t: ReturnType<typeof uniform>, dtype: DType | undefined) {
  if (!dtype || dtype === t.dtype) return t;
  const c = cast(t, dtype);
  t.dispose();
  return c;
}

/**
 * A parameter drawn from U(-bound, bound), PyTorch's default for Linear and recurrent layers.
 *
 * @example
 * ```ts
 * class Bilinear extends Module {
 *   A = uniformParameter([4, 4], 1 / Math.sqrt(4), { seed: 0 });
 *   forward(x: Variable, y: Variable): Variable { return x.matmul(this.A).mul(y).sum(-1); }
 * }
 * ```
 */
export function uniformParameter(shape: number[], bound: number, opts: InitOptions, seedOffset = 0): Parameter {
  return onBackend(
    opts,
    () =>
      new Parameter(
        withDType(
          uniform(shape, -bound, bound, opts.seed === undefined ? undefined : { seed: opts.seed + seedOffset }),
          opts.dtype,
        ),
      ),
  );
}

/** A parameter drawn from N(0, 1), PyTorch's default for Embedding. */
export function normalParameter(shape: number[], opts: InitOptions, seedOffset = 0): Parameter {
  return onBackend(
    opts,
    () =>
      new Parameter(
        withDType(randn(shape, opts.seed === undefined ? undefined : { seed: opts.seed + seedOffset }), opts.dtype),
      ),
  );
}
