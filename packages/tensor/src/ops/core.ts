import type { Backend, View } from '../backend.js';
import { bytesPerElement, type DType, type Shape } from '../dtype.js';
import { activeBackend } from '../registry.js';
import { contiguousStrides, shapeString, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';

/** The backend the operands live on (the active one when there are none); they must agree. */
export function backendOf(op: string, ...xs: Array<Tensor | number | undefined>): Backend {
  let b: Backend | null = null;
  for (const x of xs) {
    if (!(x instanceof Tensor)) continue;
    if (x.disposed) throw new Error(`${op}: an operand ${shapeString(x.shape)} was already disposed`);
    if (b === null) b = x.backend;
    else if (b !== x.backend) {
      throw new Error(`${op}: operands live on different backends (${b.info.name} and ${x.backend.info.name}); move one with toBackend()`);
    }
  }
  return b ?? activeBackend();
}

/** Throws unless `x` is a Tensor. */
export function checkTensor(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) {
    throw new Error(`${op}: ${arg} must be a Tensor, got ${x === null ? 'null' : typeof x === 'object' ? (x as object).constructor?.name ?? 'object' : typeof x}`);
  }
}

/**
 * Throws, naming the op and the shape, unless `backend` can hold a `dtype` tensor of `shape`
 * (the dtype is supported and the tensor fits in one bindable buffer).
 */
export function checkAllocation(backend: Backend, op: string, shape: Shape, dtype: DType): void {
  if (!backend.supports(dtype)) throw new Error(`${op}: dtype ${dtype} is not supported on the ${backend.info.name} backend (float64 is CPU-only)`);
  const bytes = sizeOf(shape) * bytesPerElement(dtype);
  if (bytes > backend.maxBufferBytes) {
    throw new Error(`${op}: a ${dtype} tensor of shape ${shapeString(shape)} takes ${bytes} bytes, more than the ${backend.info.name} adapter can bind (${backend.maxBufferBytes} bytes)`);
  }
}

/** A fresh, uninitialised, contiguous tensor on `backend`. */
export function empty(backend: Backend, shape: Shape, dtype: DType, op = 'alloc'): Tensor {
  checkAllocation(backend, op, shape, dtype);
  return new Tensor(backend, backend.alloc(dtype, sizeOf(shape)), shape, dtype);
}

/** `x` seen with the shape `shape` it broadcasts to: stride 0 along broadcast axes. */
export function broadcastView(x: Tensor, shape: Shape): View {
  const r = shape.length;
  const off = r - x.rank;
  const strides = shape.map((_, i) => {
    if (i < off) return 0;
    return x.shape[i - off] === 1 && shape[i] !== 1 ? 0 : (x.strides[i - off] as number);
  });
  return { storage: x.storage, dtype: x.dtype, shape, strides, offset: x.offset };
}

/** A contiguous view of a fresh tensor. */
export function viewOf(t: Tensor): View {
  return t.view;
}

export function contiguousView(t: Tensor): View {
  return { ...t.view, strides: contiguousStrides(t.shape) };
}
