/** A tensor's shape: the size of each axis, outermost first. `[]` is a scalar. */
export type Shape = readonly number[];

/** Element types. `float64` exists on the CPU backend only (for gradient checks). */
export type DType = 'float32' | 'int32' | 'float64';

/** A host array of one of the supported element types. */
export type TypedArray = Float32Array | Int32Array | Float64Array;

/** Nested arrays of numbers, as `Tensor.array()` returns them (a plain number for a scalar). */
export type NestedArray = number | NestedArray[];

const DTYPES: readonly DType[] = ['float32', 'int32', 'float64'];

/** Bytes per element of `dtype`. */
export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

/** A new zero-filled host array of `dtype`. */
export function allocHost(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'float64':
      return new Float64Array(size);
  }
}

/** The dtype of a host typed array. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  return 'float64';
}

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

/**
 * The result dtype of combining two operands, as NumPy promotes them for the types wgru has:
 * int32 with int32 stays int32, anything with float64 is float64, else float32.
 */
export function promote(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float64' || b === 'float64') return 'float64';
  return 'float32';
}

export function assertDType(op: string, arg: string, dtype: unknown): asserts dtype is DType {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new Error(`${op}: ${arg} must be one of ${DTYPES.join(', ')}, got ${String(dtype)}`);
  }
}
