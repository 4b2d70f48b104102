/**
 * State dicts to and from [safetensors](https://github.com/huggingface/safetensors) bytes, the
 * weight format of the Hugging Face ecosystem (`safetensors.torch.save_file` / `load_file`).
 * The byte format itself is in ./codec.ts.
 *
 * Saving needs the values on the host. A WebGPU buffer can only be read asynchronously
 * (mapAsync: there is no blocking read in WebGPU), so {@link saveSafetensors} returns a Promise,
 * on every backend alike: code written on one backend runs unchanged on another. For tensors on
 * the CPU backend, {@link saveSafetensorsSync} does the same synchronously (and throws for any
 * other backend rather than return stale or partial data).
 *
 * @example
 * ```ts
 * const model = new Linear(4, 2, { seed: 0 });
 * const bytes = await saveSafetensors(model.stateDict());   // any backend; in Node: writeFileSync(path, bytes)
 * model.loadStateDict(loadSafetensors(bytes));                   // bytes = readFileSync(path)
 * ```
 * @module
 */
import {
  activeBackend,
  type Backend,
  CpuStorage,
  type DType,
  type Tensor,
  Tensor as TensorClass,
  tensorOn,
  type TypedArray,
} from '@wgru/tensor';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from './codec.js';

export {
  DEFAULT_MAX_HEADER_BYTES,
  type DecodeOptions,
  decodeSafetensors,
  encodeSafetensors,
  type RawTensor,
  type SafeDType,
} from './codec.js';

/**
 * Serializes a state dict (name → Tensor) and optional string metadata to safetensors bytes, on
 * any backend: reads every tensor back (all reads are issued together, so WebGPU waits once),
 * then serializes. float32, int32 and float64 tensors are written as F32, I32, F64.
 *
 * @example
 * ```ts
 * const gru = new GRU({ inputSize: 3, hiddenSize: 4, seed: 0 });
 * const bytes = await saveSafetensors(gru.stateDict(), { format: 'pt' });   // keys l0.W, l0.U, l0.b
 * ```
 * @throws Error (the Promise rejects) naming the key when a value is not a live Tensor.
 */
export async function saveSafetensors(
  stateDict: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const list = entries('saveSafetensors', stateDict);
  const values = await Promise.all(list.map(([, t]) => t.data()));
  const raw: Record<string, RawTensor> = {};
  list.forEach(([key, t], i) => {
    defineOwn(raw, key, { dtype: t.dtype, shape: [...t.shape], data: values[i] as TypedArray });
  });
  return encodeSafetensors(raw, metadata);
}

/**
 * {@link saveSafetensors}, synchronously, for tensors on the CPU backend (whose values are on the
 * host already). The bytes are the same.
 *
 * @example
 * ```ts
 * await setBackend('cpu');
 * const bytes = saveSafetensorsSync(new Linear(4, 2).stateDict(), { format: 'pt' });
 * ```
 * @throws Error naming the key when a value is not a live Tensor or lives on another backend.
 */
export function saveSafetensorsSync(stateDict: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const raw: Record<string, RawTensor> = {};
  for (const [key, t] of entries('saveSafetensorsSync', stateDict)) {
    if (!(t.storage instanceof CpuStorage)) {
      throw new Error(
        `saveSafetensorsSync: '${key}' lives on the ${t.backend.info.name} backend, whose values can only be read asynchronously; use \`await saveSafetensors(stateDict)\` instead`,
      );
    }
    defineOwn(raw, key, { dtype: t.dtype, shape: [...t.shape], data: rowMajor(t.storage.array, t) });
  }
  return encodeSafetensors(raw, metadata);
}

/** Options of {@link loadSafetensors}. */
export interface LoadSafetensorsOptions {
  /** Where to create the tensors (default: the active backend). */
  backend?: Backend;
  /** Largest header accepted, in bytes (default 100 MB, as the reference implementation). */
  maxHeaderBytes?: number;
}

/**
 * Parses safetensors bytes into Tensors (name → Tensor) on the active backend. F32 and I32 load
 * as float32 and int32; F16 and BF16 are widened to float32 and I64 narrowed to int32 (checked).
 * F64 loads as float64 on the CPU backend; WebGPU has no float64, so there F64 values are
 * rounded to float32 (the one lossy conversion). Metadata is available from `decodeSafetensors`.
 *
 * The input is treated as hostile: it is validated completely before anything is allocated, and
 * any problem throws an Error whose message starts with `safetensors:`.
 *
 * @example
 * ```ts
 * const bytes = await saveSafetensors(new Linear(4, 2, { seed: 0 }).stateDict());   // or readFileSync(path)
 * const weights = loadSafetensors(bytes);   // { W: Tensor [4, 2], b: Tensor [2] } on the active backend
 * new Linear(4, 2).loadStateDict(weights);
 * ```
 */
export function loadSafetensors(bytes: Uint8Array, opts: LoadSafetensorsOptions = {}): Record<string, Tensor> {
  if (opts === null || typeof opts !== 'object') throw new Error('loadSafetensors: options must be an object');
  for (const k of Object.keys(opts)) {
    if (k !== 'backend' && k !== 'maxHeaderBytes')
      throw new Error(`loadSafetensors: unknown option '${k}' (known: backend, maxHeaderBytes)`);
  }
  const { tensors } = decodeSafetensors(
    bytes,
    opts.maxHeaderBytes === undefined ? {} : { maxHeaderBytes: opts.maxHeaderBytes },
  );
  const backend = opts.backend ?? activeBackend();
  const out: Record<string, Tensor> = {};
  try {
    for (const [key, raw] of Object.entries(tensors)) {
      const dtype: DType = raw.dtype === 'float64' && !backend.supports('float64') ? 'float32' : raw.dtype;
      const data = dtype === raw.dtype ? raw.data : Float32Array.from(raw.data);
      const t = tensorOn(backend, data, raw.shape, dtype);
      // The decoded values stay known on the host (they were read from the file anyway), so that
      // `loadStateDict` can refuse a NaN or Infinity in them on every backend, at the call.
      t.hostValues = data;
      defineOwn(out, key, t);
    }
  } catch (e) {
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}

/** The entries of a state dict, each checked to be a live Tensor. */
function entries(owner: string, stateDict: Record<string, Tensor>): Array<[string, Tensor]> {
  if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict)) {
    throw new Error(`${owner}: stateDict must be an object of Tensors (name → Tensor)`);
  }
  const list = Object.entries(stateDict);
  for (const [key, t] of list) {
    if (!(t instanceof TensorClass)) {
      const got =
        t === null ? 'null' : typeof t === 'object' ? ((t as object).constructor?.name ?? 'an object') : typeof t;
      throw new Error(
        `${owner}: '${key}' must be a Tensor, got ${got}${got === 'Parameter' || got === 'Variable' ? ' (pass its .value)' : ''}`,
      );
    }
    if (t.disposed) throw new Error(`${owner}: '${key}' was disposed`);
  }
  return list;
}

/** A row-major copy of a strided view onto a host array. */
function rowMajor(src: TypedArray, t: Tensor): TypedArray {
  const { shape, strides, offset, size } = t;
  const out =
    src instanceof Float64Array
      ? new Float64Array(size)
      : src instanceof Int32Array
        ? new Int32Array(size)
        : new Float32Array(size);
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0, at = offset; k < size; k++) {
    out[k] = src[at];
    // Advance the multi-index like an odometer, last axis fastest, and the source position with it.
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      at += strides[axis];
      index[axis] += 1;
      if (index[axis] < shape[axis]) break;
      at -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
  }
  return out;
}

/** Sets an own enumerable property, even for keys like `__proto__`. */
function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
