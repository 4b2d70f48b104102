/** Small helpers of the safetensors codec: its error, checks of JSON values, and safe descriptions for messages. */
/** Throws the codec's error: an `Error` whose message starts with `safetensors:`. */
export function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

/** A JSON object: not `null`, not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An array of non-negative safe integers (dimensions or offsets). */
export function isDimList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Product of the dimensions, or `undefined` if a dimension is invalid or it exceeds 2^53. */
export function elementCount(shape: unknown): number | undefined {
  if (!isDimList(shape)) return undefined;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return count;
}

/** Compares strings by Unicode code point, i.e. in UTF-8 byte order (as Rust sorts names). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) ?? 0) - (y[i].codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Sets an own enumerable property, even for keys like `__proto__`. */
export function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A name in quotes, shortened so that hostile input cannot produce huge messages. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
}

/** `[4, 8]`, shortened for very long shapes. */
export function formatDims(dims: readonly number[]): string {
  const shown = dims.slice(0, 16).join(', ');
  return `[${shown}${dims.length > 16 ? `, ... (${dims.length} dims)` : ''}]`;
}

/** A short, safe description of an arbitrary JSON value for error messages (never recursive). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) {
    const simple = value.length <= 8 && value.every((v) => typeof v !== 'object' || v === null);
    return simple ? `[${value.map(describe).join(', ')}]` : `an array of length ${value.length}`;
  }
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** The class name of a value, for "expected X, got Y" messages. */
export function typeName(value: unknown): string {
  if (typeof value !== 'object' || value === null) return value === null ? 'null' : typeof value;
  return value.constructor?.name ?? 'an object';
}
