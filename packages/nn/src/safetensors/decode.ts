/** The safetensors reader: bytes to plain tensors, treating the input as hostile (see ./codec.ts). */
import {
  type RawTensor,
  type DecodeOptions,
  DEFAULT_MAX_HEADER_BYTES,
  METADATA_KEY,
  type ReadableDType,
  READABLE,
  toLittleEndian,
} from './dtypes.js';
import {
  fail,
  isPlainObject,
  isDimList,
  elementCount,
  defineOwn,
  quote,
  formatDims,
  describe,
  typeName,
} from './helpers.js';

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
