/**
 * Reading the weights an exported model carries: at once where the tensor's backend reads
 * synchronously (the CPU and wasm backends, or values the host already has), after a device read
 * otherwise (WebGPU). So `exportOnnx` returns its bytes directly, as API.md and
 * `torch.onnx.export` do, wherever it can, and a Promise of them only on WebGPU; `await` works
 * for both.
 * @module
 */
import type { Tensor, TypedArray } from '@wgru/tensor';

/** A value now, or later. */
export type Maybe<T> = T | Promise<T>;

/** `f(x)`, now if `x` is a value, else once it resolves. */
export function after<T, U>(x: Maybe<T>, f: (value: T) => U): Maybe<U> {
  return x instanceof Promise ? x.then(f) : f(x);
}

/** The values of `xs`, now if each is a value, else once all resolve. */
export function all<T>(xs: readonly Maybe<T>[]): Maybe<T[]> {
  return xs.some((x) => x instanceof Promise) ? Promise.all(xs) : (xs as T[]);
}

/** Calls `done` once `x` is settled (at once for a value), and passes `x` on. */
export function settled<T>(x: Maybe<T>, done: () => void): Maybe<T> {
  if (x instanceof Promise) return x.finally(done);
  done();
  return x;
}

/** `t`'s values in row-major order, as float32 (or int32): now where the backend can read them now. */
export function valuesOf(t: Tensor, dtype: 'float32'): Maybe<Float32Array>;
export function valuesOf(t: Tensor, dtype: 'float32' | 'int32'): Maybe<Float32Array | Int32Array>;
export function valuesOf(t: Tensor, dtype: 'float32' | 'int32'): Maybe<Float32Array | Int32Array> {
  const convert = (data: TypedArray) => (dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data));
  const now = t.valuesNow;
  return now !== undefined ? convert(now) : t.data().then(convert);
}
