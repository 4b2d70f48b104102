import type { Backend, Storage, View } from '../backend.js';
import { bytesPerElement, type DType, type Shape } from '../dtype.js';
import { activeBackend } from '../registry.js';
import { shapeString, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';

/** The backend the operands live on (the active one when there are none); they must agree. */
export function backendOf(op: string, ...xs: Array<Tensor | number | undefined>): Backend {
  let b: Backend | null = null;
  for (const x of xs) {
    if (!(x instanceof Tensor)) continue;
    if (x.disposed) throw new Error(`${op}: an operand ${shapeString(x.shape)} was already disposed`);
    if (b === null) b = x.backend;
    else if (b !== x.backend) {
      if (b.info.name === x.backend.info.name) {
        throw new Error(
          `${op}: operands live on two different ${b.info.name} devices; a tensor made before ` +
            `setBackend('${b.info.name}') ` +
            'gave a fresh device (after a device loss) cannot be used with one made after it: recreate it',
        );
      }
      throw new Error(
        `${op}: operands live on different backends (${b.info.name} and ${x.backend.info.name}); copy one ` +
          `across with tensorOn(backend, await t.data(), t.shape, t.dtype)`,
      );
    }
  }
  return b ?? activeBackend();
}

/** Throws unless `x` is a Tensor. */
export function checkTensor(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) {
    throw new Error(
      `${op}: ${arg} must be a Tensor, got ` +
        `${x === null ? 'null' : typeof x === 'object' ? ((x as object).constructor?.name ?? 'object') : typeof x}`,
    );
  }
}

/**
 * Throws, naming the op and the shape, unless `backend` can hold a `dtype` tensor of `shape`
 * (the dtype is supported and the tensor fits in one bindable buffer).
 */
export function checkAllocation(backend: Backend, op: string, shape: Shape, dtype: DType): void {
  if (!backend.supports(dtype))
    throw new Error(`${op}: dtype ${dtype} is not supported on the ${backend.info.name} backend (float64 is CPU-only)`);
  const bytes = sizeOf(shape) * bytesPerElement(dtype);
  if (bytes > backend.maxBufferBytes) {
    throw new Error(
      `${op}: a ${dtype} tensor of shape ${shapeString(shape)} takes ${bytes} bytes, more than the ` +
        `${backend.info.name} adapter can bind (${backend.maxBufferBytes} bytes)`,
    );
  }
}

/**
 * A fresh, uninitialised, contiguous tensor on `backend`. `rowMajorStrides`, when the caller has
 * them at hand (an operand's, frozen), are shared instead of computed.
 */
export function empty(
  backend: Backend,
  shape: Shape,
  dtype: DType,
  op = 'alloc',
  rowMajorStrides?: readonly number[],
): Tensor {
  checkAllocation(backend, op, shape, dtype);
  let storage: Storage;
  try {
    storage = backend.alloc(dtype, sizeOf(shape));
  } catch (e) {
    throw namedError(op, e); // as naming() does, without a closure per call
  }
  return new Tensor(backend, storage, shape, dtype, rowMajorStrides);
}

/**
 * Runs a backend call for `op`, so that what it throws names the op: a lost WebGPU device, or an
 * asynchronous error of an earlier batch (which names that batch's ops in turn).
 */
export function naming<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw namedError(op, e);
  }
}

function namedError(op: string, e: unknown): Error {
  const message = e instanceof Error ? e.message : String(e);
  return new Error(`${op}: ${message}`, { cause: e });
}

/** `x` seen with the shape `shape` it broadcasts to: stride 0 along broadcast axes. */
export function broadcastView(x: Tensor, shape: Shape): View {
  const r = shape.length;
  const off = r - x.rank;
  const strides: number[] = [];
  for (let i = 0; i < r; i++)
    strides.push(i < off || (x.shape[i - off] === 1 && shape[i] !== 1) ? 0 : (x.strides[i - off] as number));
  return { storage: x.storage, dtype: x.dtype, shape, strides, offset: x.offset };
}

/** Whether `x` is a row-major block (an offset is fine: anywhere in its storage). */
export function isContiguous(x: Tensor): boolean {
  let s = 1;
  for (let i = x.rank - 1; i >= 0; i--) {
    if (x.shape[i] !== 1 && x.strides[i] !== s) return false;
    s *= x.shape[i] as number;
  }
  return true;
}
