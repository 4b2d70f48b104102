/**
 * A codec for the [safetensors](https://github.com/huggingface/safetensors) file format,
 * independent of wgru's `Tensor` class: it turns plain typed arrays into bytes and back.
 *
 * Layout of a file:
 *
 * ```text
 * [ N: u64 little-endian ][ N bytes of UTF-8 JSON header ][ data buffer ]
 * ```
 *
 * The header maps each tensor name to `{ "dtype", "shape", "data_offsets": [begin, end] }`
 * (offsets are relative to the start of the data buffer) and may hold one extra key,
 * `"__metadata__"`, a string-to-string map. The header may end with spaces; writers pad it
 * so that the data buffer starts at a multiple of 8 bytes. Tensors are stored row-major and
 * little-endian, and together they must tile the data buffer exactly: no gaps, no overlaps,
 * no trailing bytes.
 *
 * The reader treats its input as hostile: every size is checked against the real byte length
 * before anything is allocated, and every problem throws an `Error` whose message starts with
 * `safetensors:` and says which tensor is wrong and why.
 *
 * @module
 */

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
const METADATA_KEY = '__metadata__';

/** How one on-disk dtype is read: its element size and the wgru dtype it becomes. */
interface ReadableDType {
  bytes: number;
  target: RawTensor['dtype'];
}

/** Every dtype the reader accepts. A `Map`, so that names like "toString" are not found. */
const READABLE = new Map<string, ReadableDType>([
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
const WRITABLE = {
  float64: { tag: 'F64', bytes: 8, rank: 2, array: Float64Array },
  float32: { tag: 'F32', bytes: 4, rank: 1, array: Float32Array },
  int32: { tag: 'I32', bytes: 4, rank: 0, array: Int32Array },
} as const;

/** Whether this machine stores numbers little-endian, like the file does (true almost everywhere). */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Matches a lone UTF-16 surrogate, which UTF-8 cannot represent. */
const LONE_SURROGATE = /\p{Cs}/u;

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/** One tensor ready to be written. */
interface WriteEntry {
  name: string;
  tensor: RawTensor;
  format: (typeof WRITABLE)[RawTensor['dtype']];
}

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes.
 *
 * The output is deterministic: tensors are ordered by dtype (F64, then F32, then I32) and then
 * by name, exactly as the reference Rust writer (used by `safetensors.torch.save_file`) orders
 * them, so every tensor starts at a multiple of its element size; metadata keys are sorted; the
 * header is padded with spaces to a multiple of 8 bytes.
 *
 * @throws Error (message starting with `safetensors:`) when a tensor is inconsistent: unknown
 * dtype, typed array of the wrong kind, invalid shape or element count, the reserved name
 * `__metadata__`, or a name or metadata string that is not well-formed UTF-16.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors(
 *   { weight: { dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
 *   { format: 'pt' },
 * );
 * const { tensors, metadata } = decodeSafetensors(bytes);   // host arrays, no backend involved
 * tensors.weight?.shape;                                    // [2, 2]
 * metadata;                                                 // { format: 'pt' }
 * ```
 */
export function encodeSafetensors(tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = Object.keys(tensors).map((name) => checkTensorToWrite(name, tensors[name]));
  entries.sort((a, b) => b.format.rank - a.format.rank || compareCodePoints(a.name, b.name));

  const parts: string[] = [];
  const metadataKeys = metadata === undefined ? [] : Object.keys(metadata).sort(compareCodePoints);
  if (metadata !== undefined && metadataKeys.length > 0) {
    const fields = metadataKeys.map((key) => {
      const value = metadata[key];
      if (typeof value !== 'string' || LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) {
        fail(`cannot encode metadata ${quote(key)}: keys and values must be well-formed strings`);
      }
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    parts.push(`"${METADATA_KEY}":{${fields.join(',')}}`);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const { name, tensor, format } of entries) {
    const end = offset + tensor.data.length * format.bytes;
    const info = `{"dtype":"${format.tag}","shape":[${tensor.shape.join(',')}],"data_offsets":[${offset},${end}]}`;
    parts.push(`${JSON.stringify(name)}:${info}`);
    offsets.push(offset);
    offset = end;
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const dataStart = 8 + headerLength;
  const out = new Uint8Array(dataStart + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, dataStart); // pad with spaces
  for (let i = 0; i < entries.length; i++) {
    const { data } = entries[i].tensor;
    const start = dataStart + offsets[i];
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), start);
    toLittleEndian(out.subarray(start, start + data.byteLength), data.BYTES_PER_ELEMENT);
  }
  return out;
}

/** Checks that a tensor is consistent before anything is written; returns how to write it. */
function checkTensorToWrite(name: string, tensor: RawTensor): WriteEntry {
  const what = `cannot encode tensor ${quote(name)}`;
  if (name === METADATA_KEY) fail(`${what}: that name is reserved for the metadata`);
  if (LONE_SURROGATE.test(name)) fail(`${what}: the name is not well-formed UTF-16`);
  const format = Object.hasOwn(WRITABLE, tensor.dtype) ? WRITABLE[tensor.dtype] : undefined;
  if (format === undefined) {
    fail(`${what}: unsupported dtype ${describe(tensor.dtype)} (use float32, float64 or int32)`);
  }
  if (!(tensor.data instanceof format.array)) {
    fail(`${what}: dtype ${tensor.dtype} needs a ${format.array.name}, got ${typeName(tensor.data)}`);
  }
  const count = elementCount(tensor.shape);
  if (count === undefined) {
    fail(`${what}: shape must be an array of non-negative integers, got ${describe(tensor.shape)}`);
  }
  if (count !== tensor.data.length) {
    fail(`${what}: shape ${formatDims(tensor.shape)} has ${count} elements but data has ${tensor.data.length}`);
  }
  return { name, tensor, format };
}

/**
 * Converts elements of `size` bytes between this host's byte order and little-endian, in place:
 * nothing to do on little-endian hosts, a reversal of each element's bytes on big-endian ones.
 */
function toLittleEndian(bytes: Uint8Array, size: number): void {
  if (HOST_IS_LITTLE_ENDIAN) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/** One header entry, validated: where its bytes are and how to read them. */
interface ReadEntry {
  name: string;
  dtype: string;
  format: ReadableDType;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

/**
 * Parses safetensors bytes into tensors and metadata.
 *
 * F32, F64 and I32 are read as is; F16 and BF16 become `float32`; I64 becomes `int32` (with a
 * range check). The returned typed arrays are fresh copies: they never alias `bytes`.
 *
 * The whole header is validated, and every declared size checked against the real length of
 * `bytes`, before any tensor is allocated: a header claiming a 10 GB tensor in a 100-byte file
 * throws without allocating it.
 *
 * @throws Error with a message starting with `safetensors:` for any malformed input (bad header
 * length, header not UTF-8 JSON, duplicate keys, malformed entry, unsupported dtype, invalid
 * shape, offsets out of range, overlapping or leaving gaps, truncated data, I64 out of range).
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  opts: DecodeOptions = {},
): { tensors: Record<string, RawTensor>; metadata: Record<string, string> } {
  if (!(bytes instanceof Uint8Array)) fail(`input must be a Uint8Array, got ${typeName(bytes)}`);
  const maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!(maxHeaderBytes >= 0)) fail(`maxHeaderBytes must be a non-negative number, got ${maxHeaderBytes}`);

  const headerLength = readHeaderLength(bytes, maxHeaderBytes);
  const header = parseHeader(bytes.subarray(8, 8 + headerLength));
  const metadata = readMetadata(header[METADATA_KEY]);

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const entries = Object.keys(header)
    .filter((name) => name !== METADATA_KEY)
    .map((name) => checkEntry(name, header[name], dataLength));
  checkTiling(entries, dataLength);

  // Everything is validated: every tensor lies inside `bytes`, so allocations are bounded.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors: Record<string, RawTensor> = {};
  for (const entry of entries) {
    const data = readElements(bytes, view, dataStart, entry);
    defineOwn(tensors, entry.name, { dtype: entry.format.target, shape: entry.shape, data });
  }
  return { tensors, metadata };
}

/** Reads and bounds-checks the 8-byte little-endian header length. */
function readHeaderLength(bytes: Uint8Array, maxHeaderBytes: number): number {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high >= 2 ** 21) {
    const exact = (BigInt(high) << 32n) | BigInt(low);
    fail(`header length ${exact} is not a safe integer`);
  }
  const n = high * 2 ** 32 + low;
  if (n > maxHeaderBytes) fail(`header length ${n} exceeds the limit of ${maxHeaderBytes} bytes (maxHeaderBytes)`);
  if (n > bytes.length - 8) fail(`header length ${n} exceeds the file (${bytes.length} bytes in all)`);
  return n;
}

/** Decodes the header as strict UTF-8 JSON; it must be an object without duplicate keys. */
function parseHeader(headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    fail(`header is not valid JSON (${reason.slice(0, 120)})`);
  }
  if (!isPlainObject(header)) fail(`header must be a JSON object, got ${describe(header)}`);
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    const where = duplicate.parent === undefined ? '' : ` inside ${quote(duplicate.parent)}`;
    fail(`header has duplicate key ${quote(duplicate.key)}${where}`);
  }
  return header;
}

/** Validates `"__metadata__"`: absent, `null`, or an object whose values are all strings. */
function readMetadata(value: unknown): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined || value === null) return metadata;
  if (!isPlainObject(value)) fail(`"${METADATA_KEY}" must be an object of strings, got ${describe(value)}`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`"${METADATA_KEY}" value of ${quote(key)} must be a string, got ${describe(v)}`);
    defineOwn(metadata, key, v);
  }
  return metadata;
}

/** Validates one header entry on its own: fields, dtype, shape, and offsets against its size. */
function checkEntry(name: string, value: unknown, dataLength: number): ReadEntry {
  const what = `tensor ${quote(name)}`;
  if (!isPlainObject(value)) {
    fail(`${what}: entry must be an object with dtype, shape and data_offsets, got ${describe(value)}`);
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, field)) fail(`${what}: missing "${field}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value;

  if (typeof dtype !== 'string') fail(`${what}: "dtype" must be a string, got ${describe(dtype)}`);
  const format = READABLE.get(dtype);
  if (format === undefined) {
    fail(`${what}: unsupported dtype ${quote(dtype)} (readable: ${[...READABLE.keys()].join(', ')})`);
  }

  if (!isDimList(shape)) {
    fail(`${what}: "shape" must be an array of non-negative integers, got ${describe(shape)}`);
  }
  const count = elementCount(shape);
  if (count === undefined || count * format.bytes > Number.MAX_SAFE_INTEGER) {
    fail(`${what}: shape ${formatDims(shape)} of ${dtype} is too large (more than 2^53 elements or bytes)`);
  }
  const nbytes = count * format.bytes;

  if (!isDimList(offsets) || offsets.length !== 2) {
    fail(`${what}: "data_offsets" must be [begin, end] with non-negative integers, got ${describe(offsets)}`);
  }
  const [begin, end] = offsets;
  const shown = `data_offsets [${begin}, ${end}]`;
  if (begin > end) fail(`${what}: ${shown} are reversed (begin > end)`);
  if (end - begin !== nbytes) {
    fail(`${what}: ${shown} do not match shape ${formatDims(shape)} of ${dtype} (${nbytes} bytes)`);
  }
  if (end > dataLength) {
    fail(`${what}: ${shown} exceed the data buffer (${dataLength} bytes; is the file truncated?)`);
  }
  return { name, dtype, format, shape, count, begin, end };
}

/** Checks that the tensors, in offset order, cover the data buffer exactly once. */
function checkTiling(entries: ReadEntry[], dataLength: number): void {
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: ReadEntry | undefined;
  for (const entry of ordered) {
    const expected = previous?.end ?? 0;
    const shown = `tensor ${quote(entry.name)}: data_offsets [${entry.begin}, ${entry.end}]`;
    const after = previous === undefined ? 'the start of the data buffer' : `tensor ${quote(previous.name)}`;
    if (entry.begin < expected) fail(`${shown} overlap ${after} (which ends at ${expected})`);
    if (entry.begin > expected) fail(`${shown} leave a gap of ${entry.begin - expected} bytes after ${after}`);
    previous = entry;
  }
  const covered = previous?.end ?? 0;
  if (covered !== dataLength) {
    const last =
      previous === undefined ? 'no tensor is declared' : `the last tensor ${quote(previous.name)} ends at ${covered}`;
    fail(
      `data buffer has ${dataLength - covered} trailing bytes not covered by any tensor (${last}, buffer is ${dataLength} bytes)`,
    );
  }
}

/** Copies (and converts, if needed) one tensor's elements into a fresh, aligned typed array. */
function readElements(
  bytes: Uint8Array,
  view: DataView,
  dataStart: number,
  { name, dtype, count, begin, end }: ReadEntry,
): RawTensor['data'] {
  const start = dataStart + begin;
  // Native dtypes: copy the bytes as a block into a fresh buffer (aligned, whatever the offset
  // in the file was), then put them in host byte order (a no-op on little-endian hosts).
  const copy = (size: number): ArrayBuffer => {
    // Uint8Array's own slice: a Node Buffer's slice is a view into Node's shared pool, not a copy.
    const block = Uint8Array.prototype.slice.call(bytes, start, dataStart + end);
    toLittleEndian(block, size);
    return block.buffer;
  };
  switch (dtype) {
    case 'F32':
      return new Float32Array(copy(4));
    case 'F64':
      return new Float64Array(copy(8));
    case 'I32':
      return new Int32Array(copy(4));
    case 'F16': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToNumber(view.getUint16(start + 2 * i, true));
      return out;
    }
    case 'BF16': {
      // A bfloat16 is the top half of a float32: shift its bits up and reinterpret.
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getUint16(start + 2 * i, true) << 16;
      return new Float32Array(out.buffer);
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const low = view.getUint32(start + 8 * i, true);
        const high = view.getInt32(start + 8 * i + 4, true);
        // Fits in int32 iff the high word is the sign extension of the low word's top bit.
        if (high !== (low >= 2 ** 31 ? -1 : 0)) {
          const value = (BigInt(high) << 32n) + BigInt(low);
          fail(`tensor ${quote(name)}: I64 value ${value} at element ${i} does not fit in int32`);
        }
        out[i] = low | 0;
      }
      return out;
    }
    default:
      fail(`tensor ${quote(name)}: unsupported dtype ${quote(dtype)}`); // unreachable: checked earlier
  }
}

/** Converts IEEE 754 half-precision bits to a number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero or subnormal
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Finds the first key repeated within one JSON object (`JSON.parse` silently keeps the last).
 * `text` must already be valid JSON, so a simple scan over strings and brackets is enough.
 */
function findDuplicateKey(text: string): { key: string; parent: string | undefined } | undefined {
  interface Frame {
    keys: Set<string> | undefined; // undefined for arrays
    label: string | undefined; // the key this object or array sits under
    lastKey: string | undefined;
    expectKey: boolean;
  }
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys !== undefined && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, parent: top.label };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const label = top?.keys !== undefined ? top.lastKey : top?.label;
      stack.push({ keys: c === '{' ? new Set() : undefined, label, lastKey: undefined, expectKey: true });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',' && top !== undefined) {
      top.expectKey = true;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Throws the codec's error: an `Error` whose message starts with `safetensors:`. */
function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

/** A JSON object: not `null`, not an array. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An array of non-negative safe integers (dimensions or offsets). */
function isDimList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Product of the dimensions, or `undefined` if a dimension is invalid or it exceeds 2^53. */
function elementCount(shape: unknown): number | undefined {
  if (!isDimList(shape)) return undefined;
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return count;
}

/** Compares strings by Unicode code point, i.e. in UTF-8 byte order (as Rust sorts names). */
function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) ?? 0) - (y[i].codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Sets an own enumerable property, even for keys like `__proto__`. */
function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A name in quotes, shortened so that hostile input cannot produce huge messages. */
function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
}

/** `[4, 8]`, shortened for very long shapes. */
function formatDims(dims: readonly number[]): string {
  const shown = dims.slice(0, 16).join(', ');
  return `[${shown}${dims.length > 16 ? `, ... (${dims.length} dims)` : ''}]`;
}

/** A short, safe description of an arbitrary JSON value for error messages (never recursive). */
function describe(value: unknown): string {
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
function typeName(value: unknown): string {
  if (typeof value !== 'object' || value === null) return value === null ? 'null' : typeof value;
  return value.constructor?.name ?? 'an object';
}
