/** The safetensors dtypes, as the codec (./codec.ts) writes and reads them, and its plain-data tensor. */
/**
 * The safetensors dtypes that wgru writes, and reads without conversion.
 *
 * The reader also accepts three more dtypes, converting them on the way in:
 * - `F16` and `BF16` are widened to `float32` (exact: every half and bfloat16 value is a float32);
 * - `I64` is narrowed to `int32`, and a value outside [-2^31, 2^31 - 1] throws.
 *
 * Any other dtype (`U8`, `BOOL`, `F8_E4M3`, ...) is rejected.
 */
export type SafeDType = 'F32' | 'F64' | 'I32';

/** A tensor as plain data: a dtype, a shape and its elements in row-major order. */
export interface RawTensor {
  dtype: 'float32' | 'float64' | 'int32';
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

/** Options of {@link decodeSafetensors}. */
export interface DecodeOptions {
  /** Largest header accepted, in bytes. Default: 100 MB, as in the reference implementation. */
  maxHeaderBytes?: number;
}

/** Default of {@link DecodeOptions.maxHeaderBytes}: the reference implementation's limit. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/** The reserved header key holding the string-to-string metadata. */
export const METADATA_KEY = '__metadata__';

/** How one on-disk dtype is read: its element size and the wgru dtype it becomes. */
export interface ReadableDType {
  bytes: number;
  target: RawTensor['dtype'];
}

/** Every dtype the reader accepts. A `Map`, so that names like "toString" are not found. */
export const READABLE = new Map<string, ReadableDType>([
  ['F32', { bytes: 4, target: 'float32' }],
  ['F64', { bytes: 8, target: 'float64' }],
  ['I32', { bytes: 4, target: 'int32' }],
  ['F16', { bytes: 2, target: 'float32' }],
  ['BF16', { bytes: 2, target: 'float32' }],
  ['I64', { bytes: 8, target: 'int32' }],
]);

/**
 * What the writer emits for each wgru dtype. `rank` follows the reference implementation's
 * dtype order (F64 > F32 > I32), which decides where each tensor goes in the data buffer.
 */
export const WRITABLE = {
  float64: { tag: 'F64', bytes: 8, rank: 2, array: Float64Array },
  float32: { tag: 'F32', bytes: 4, rank: 1, array: Float32Array },
  int32: { tag: 'I32', bytes: 4, rank: 0, array: Int32Array },
} as const;

/** Whether this machine stores numbers little-endian, like the file does (true almost everywhere). */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Matches a lone UTF-16 surrogate, which UTF-8 cannot represent. */
export const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Converts elements of `size` bytes between this host's byte order and little-endian, in place:
 * nothing to do on little-endian hosts, a reversal of each element's bytes on big-endian ones.
 */
export function toLittleEndian(bytes: Uint8Array, size: number): void {
  if (HOST_IS_LITTLE_ENDIAN) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
