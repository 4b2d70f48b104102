import {
  activeBackend,
  type Backend,
  cast,
  type DType,
  type NestedArray,
  reshape,
  type Shape,
  shapeString,
  type Tensor,
  Tensor as TensorClass,
  tensorOn,
  type TypedArray,
} from '@wgru/tensor';
import { Variable } from './variable.js';

export interface VariableOptions {
  shape?: Shape;
  dtype?: DType;
  requiresGrad?: boolean;
  /** Where to put the value (default: the active backend). */
  backend?: Backend;
}

const VARIABLE_OPTIONS = new Set(['shape', 'dtype', 'requiresGrad', 'backend']);

/**
 * A leaf Variable from host values (numbers, nested arrays, a typed array) or a Tensor (used as
 * is, not copied; with `shape`, a reshaped view of it; with another `dtype`, a cast copy).
 * `requiresGrad` defaults to false, as in PyTorch.
 *
 * @example
 * ```ts
 * const w = variable([[1, 2], [3, 4]], { requiresGrad: true });   // float32 [2, 2], a leaf
 * const ids = variable([0, 2], { dtype: 'int32' });                 // int32 [2], no gradient
 * const x = variable(randn([4, 2], { seed: 0 }));                   // wraps a Tensor, no copy
 * ```
 */
export function variable(values: number | NestedArray | TypedArray | Tensor, opts: VariableOptions = {}): Variable {
  if (opts === null || typeof opts !== 'object') throw new Error('variable: options must be an object');
  for (const k of Object.keys(opts)) if (!VARIABLE_OPTIONS.has(k)) throw new Error(`variable: unknown option '${k}'`);
  let t: Tensor;
  if (values instanceof TensorClass) {
    if (opts.backend !== undefined && opts.backend !== values.backend)
      throw new Error(
        `variable: the Tensor lives on the ${values.backend.info.name} backend, the backend option names ` +
          `${opts.backend.info.name}; a Tensor is used as is, not moved`,
      );
    t = values;
    // As torch.tensor(t, dtype=...) and t.reshape(...): a cast copy, a reshaped view.
    if (opts.shape !== undefined) t = reshape(t, opts.shape);
    if (opts.dtype !== undefined && opts.dtype !== t.dtype) {
      const c = cast(t, opts.dtype);
      if (t !== values) t.dispose();
      t = c;
    }
  } else {
    t = tensorOn(opts.backend ?? activeBackend(), values, opts.shape, opts.dtype);
  }
  const requiresGrad = opts.requiresGrad ?? false;
  if (requiresGrad && t.dtype === 'int32')
    throw new Error(
      `variable: an int32 Variable ${shapeString(t.shape)} cannot require grad (only float Variables have gradients)`,
    );
  return new Variable(t, requiresGrad);
}
