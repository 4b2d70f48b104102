import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, type RawTensor } from '../src/safetensors/codec.js';

/** Fixed seed: a failing property prints its seed and path, and replays identically. */
const SEED = 20261124;

// ---------------------------------------------------------------------------------------------
// Helpers to build files by hand
// ---------------------------------------------------------------------------------------------

/** Concatenates byte chunks. */
function concat(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** The 8-byte little-endian length prefix. */
function u64(n: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** Little-endian bytes of numbers, written with a DataView (independent of the codec). */
function le(kind: 'f16bits' | 'f32' | 'f64' | 'i32' | 'i64', values: (number | bigint)[]): Uint8Array {
  const size = { f16bits: 2, f32: 4, f64: 8, i32: 4, i64: 8 }[kind];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (kind === 'f16bits') view.setUint16(i * 2, Number(v), true);
    if (kind === 'f32') view.setFloat32(i * 4, Number(v), true);
    if (kind === 'f64') view.setFloat64(i * 8, Number(v), true);
    if (kind === 'i32') view.setInt32(i * 4, Number(v), true);
    if (kind === 'i64') view.setBigInt64(i * 8, BigInt(v), true);
  });
  return out;
}

/**
 * A file from a header text and a data buffer. By default the header is padded with spaces to
 * a multiple of 8 bytes like real writers do; `pad: false` keeps it as is.
 */
function file(header: string, data: Uint8Array = new Uint8Array(0), { pad = true } = {}): Uint8Array {
  let json: Uint8Array = new TextEncoder().encode(header);
  if (pad) json = concat(json, new TextEncoder().encode(' '.repeat((8 - (json.length % 8)) % 8)));
  return concat(u64(json.length), json, data);
}

/** Asserts that decoding throws a plain `Error` starting with `safetensors:` and containing `parts`. */
function expectDecodeError(bytes: Uint8Array, parts: string[], opts?: { maxHeaderBytes?: number }): void {
  let error: unknown;
  try {
    decodeSafetensors(bytes, opts);
  } catch (e) {
    error = e;
  }
  expect(error, `expected an error containing ${JSON.stringify(parts)}`).toBeInstanceOf(Error);
  const { message } = error as Error;
  expect((error as Error).constructor).toBe(Error);
  expect(message.startsWith('safetensors: ')).toBe(true);
  for (const part of parts) expect(message).toContain(part);
}

/** Byte view of a typed array, to compare element bits exactly (NaN, -0 included). */
function bytesOf(data: RawTensor['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const dtypeArb = fc.constantFrom<RawTensor['dtype']>('float32', 'float64', 'int32');

/** Shapes of rank 0 to 4 with small dims, zero included (so some tensors are empty). */
const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });

const tensorArb: fc.Arbitrary<RawTensor> = fc
  .tuple(dtypeArb, shapeArb)
  .chain(([dtype, shape]): fc.Arbitrary<RawTensor> => {
    const n = shape.reduce((a, b) => a * b, 1);
    const length = { minLength: n, maxLength: n };
    if (dtype === 'float32') {
      return fc.array(fc.float(), length).map((v) => ({ dtype, shape, data: Float32Array.from(v) }));
    }
    if (dtype === 'float64') {
      return fc.array(fc.double(), length).map((v) => ({ dtype, shape, data: Float64Array.from(v) }));
    }
    return fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), length).map((v) => ({
      dtype,
      shape,
      data: Int32Array.from(v),
    }));
  });

/** Names: arbitrary Unicode (astral included), plus a few that trip naive object handling. */
const nameArb = fc
  .oneof(fc.string({ unit: 'grapheme', maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'l0.W', '10', '2'))
  .filter((name) => name !== '__metadata__');

/** Builds a record with own properties, so that a `__proto__` key is a key and not a prototype. */
function record<T>(pairs: [string, T][]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of pairs)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const tensorsArb = fc
  .uniqueArray(fc.tuple(nameArb, tensorArb), { maxLength: 6, selector: ([name]) => name })
  .map((pairs) => record(pairs));

const metadataArb = fc.option(
  fc
    .uniqueArray(fc.tuple(nameArb, fc.string({ unit: 'grapheme', maxLength: 12 })), {
      maxLength: 3,
      selector: ([k]) => k,
    })
    .map(record),
  { nil: undefined },
);

/** A valid file, as bytes. */
const validFileArb = fc
  .tuple(tensorsArb, metadataArb)
  .map(([tensors, metadata]) => encodeSafetensors(tensors, metadata));

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

describe('safetensors codec: round trip', () => {
  it('decode(encode(x)) equals x, bit for bit, and the bytes are deterministic and aligned', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const bytes = encodeSafetensors(tensors, metadata);
        const decoded = decodeSafetensors(bytes);

        expect(Object.keys(decoded.tensors).sort()).toEqual(Object.keys(tensors).sort());
        for (const name of Object.keys(tensors)) {
          const before = tensors[name];
          const after = decoded.tensors[name];
          expect(after.dtype).toBe(before.dtype);
          expect(after.shape).toEqual(before.shape);
          expect(after.data.constructor).toBe(before.data.constructor);
          expect(bytesOf(after.data)).toEqual(bytesOf(before.data));
          expect(after.data.buffer).not.toBe(bytes.buffer); // a copy, never a view of the input
        }
        expect(decoded.metadata).toEqual(metadata ?? {});

        // Same content, other insertion order: same bytes. Re-encoding the decoded form too.
        const reversed = record(
          Object.keys(tensors)
            .reverse()
            .map((k): [string, RawTensor] => [k, tensors[k]]),
        );
        expect(encodeSafetensors(reversed, metadata)).toEqual(bytes);
        expect(encodeSafetensors(decoded.tensors, decoded.metadata)).toEqual(bytes);

        // Layout: header padded to 8 bytes, every tensor at a multiple of its element size.
        const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(headerLength % 8).toBe(0);
        const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<
          string,
          { dtype: string; data_offsets: [number, number] }
        >;
        for (const [name, info] of Object.entries(header)) {
          if (name === '__metadata__') continue;
          expect(info.data_offsets[0] % (info.dtype === 'F64' ? 8 : 4)).toBe(0);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('round-trips 0-d scalars, empty tensors, an empty file, and awkward names', () => {
    const tensors = record<RawTensor>([
      ['scalar', { dtype: 'float64', shape: [], data: Float64Array.of(-0) }],
      ['empty', { dtype: 'float32', shape: [3, 0, 2], data: new Float32Array(0) }],
      ['__proto__', { dtype: 'int32', shape: [2], data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1) }],
      ['constructor', { dtype: 'float32', shape: [1], data: Float32Array.of(Number.NaN) }],
      ['名前.😀', { dtype: 'float32', shape: [1], data: Float32Array.of(Number.POSITIVE_INFINITY) }],
    ]);
    const { tensors: out } = decodeSafetensors(encodeSafetensors(tensors));
    expect(Object.keys(out).sort()).toEqual(Object.keys(tensors).sort());
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.is(out.scalar.data[0], -0)).toBe(true);
    expect(out.scalar.shape).toEqual([]);
    expect(out.empty.shape).toEqual([3, 0, 2]);
    const get = (name: string): RawTensor => out[name]; // own keys, not Object.prototype's
    expect(Array.from(get('__proto__').data)).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect(get('constructor').data[0]).toBeNaN();

    expect(decodeSafetensors(encodeSafetensors({}))).toEqual({ tensors: {}, metadata: {} });
  });

  it('copies data out of misaligned input (odd header length, odd byteOffset)', () => {
    // Header of 61 bytes (unpadded), so the F64 data starts at file offset 69.
    const header = '{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}      ';
    const bytes = file(header, le('f64', [1.5, -2.25]), { pad: false });
    expect(bytes.length - 16).toBe(69);
    // ...and inside a larger buffer at an odd byteOffset.
    const host = new Uint8Array(bytes.length + 3);
    host.set(bytes, 3);
    for (const input of [bytes, host.subarray(3)]) {
      const x = decodeSafetensors(input).tensors.x;
      expect(x.data).toBeInstanceOf(Float64Array);
      expect(Array.from(x.data)).toEqual([1.5, -2.25]);
      expect(x.data.byteOffset).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Known-good files
// ---------------------------------------------------------------------------------------------

describe('safetensors codec: known-good files', () => {
  it('matches the reference implementation test vector (attn0, F32, [1, 1, 2, 3])', () => {
    // From huggingface/safetensors `test_serialization_forced_alignement`: a 65-byte JSON header
    // padded with 7 spaces to 72, then six little-endian f32 (0, 1, 2, 3, 4, 5).
    const expected = Uint8Array.from([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70,
      51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97,
      95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0,
      0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    // The same file, built by hand from its parts.
    const byHand = file(
      '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}',
      le('f32', [0, 1, 2, 3, 4, 5]),
    );
    expect(byHand).toEqual(expected);

    const { tensors, metadata } = decodeSafetensors(expected);
    expect(metadata).toEqual({});
    expect(tensors.attn0.dtype).toBe('float32');
    expect(tensors.attn0.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(tensors.attn0.data)).toEqual([0, 1, 2, 3, 4, 5]);

    const data = Float32Array.of(0, 1, 2, 3, 4, 5);
    expect(encodeSafetensors({ attn0: { dtype: 'float32', shape: [1, 1, 2, 3], data } })).toEqual(expected);
  });

  it('matches the reference vectors for an empty file, with and without metadata', () => {
    expect(encodeSafetensors({})).toEqual(Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    const withMetadata = file('{"__metadata__":{"framework":"pt"}}');
    expect(withMetadata.length).toBe(48);
    expect(encodeSafetensors({}, { framework: 'pt' })).toEqual(withMetadata);
    expect(decodeSafetensors(withMetadata)).toEqual({ tensors: {}, metadata: { framework: 'pt' } });
  });

  it('reads and writes a mixed file laid out as safetensors.torch.save_file does (F64, F32, I32)', () => {
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},' +
      '"a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]},' +
      '"z":{"dtype":"F32","shape":[0],"data_offsets":[32,32]},' +
      '"i":{"dtype":"I32","shape":[],"data_offsets":[32,36]}}';
    const bytes = file(header, concat(le('f64', [Math.PI, -1e300]), le('f32', [1, -2, 0.5, 3]), le('i32', [-7])));

    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.d).toEqual({ dtype: 'float64', shape: [2], data: Float64Array.of(Math.PI, -1e300) });
    expect(tensors.a).toEqual({ dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, -2, 0.5, 3) });
    expect(tensors.z).toEqual({ dtype: 'float32', shape: [0], data: new Float32Array(0) });
    expect(tensors.i).toEqual({ dtype: 'int32', shape: [], data: Int32Array.of(-7) });

    expect(encodeSafetensors(tensors, metadata)).toEqual(bytes);
  });

  it('accepts headers listed out of offset order and padded with extra spaces', () => {
    const header =
      '{"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}';
    const bytes = file(header + ' '.repeat(37), le('i32', [1, 2]), { pad: false });
    const { tensors } = decodeSafetensors(bytes);
    expect(Array.from(tensors.a.data)).toEqual([1]);
    expect(Array.from(tensors.b.data)).toEqual([2]);
  });

  it('reads F16 and BF16 as float32, exactly', () => {
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const bf16 = [0x3f80, 0xc040, 0x4049, 0x7f80, 0x0001, 0x8000];
    const header =
      `{"h":{"dtype":"F16","shape":[3,3],"data_offsets":[0,18]},` +
      `"b":{"dtype":"BF16","shape":[6],"data_offsets":[18,30]}}`;
    const { tensors } = decodeSafetensors(file(header, concat(le('f16bits', f16), le('f16bits', bf16))));

    expect(tensors.h.dtype).toBe('float32');
    expect(tensors.h.shape).toEqual([3, 3]);
    expect(tensors.h.data).toBeInstanceOf(Float32Array);
    const h = Array.from(tensors.h.data);
    expect(h.slice(0, 7)).toEqual([1, -2, 65504, 2 ** -24, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(Object.is(h[4], -0)).toBe(true);
    expect(h[7]).toBeNaN();
    expect(h[8]).toBe(0.333251953125);

    expect(tensors.b.dtype).toBe('float32');
    const b = Array.from(tensors.b.data);
    expect(b.slice(0, 4)).toEqual([1, -3, 3.140625, Number.POSITIVE_INFINITY]);
    expect(b[4]).toBe(2 ** -133); // smallest bfloat16 subnormal
    expect(Object.is(b[5], -0)).toBe(true);
  });

  it('reads I64 as int32 when every value fits, and rejects values that do not', () => {
    const values = [0n, -1n, 42n, 2n ** 31n - 1n, -(2n ** 31n)];
    const header = '{"n":{"dtype":"I64","shape":[5],"data_offsets":[0,40]}}';
    const { tensors } = decodeSafetensors(file(header, le('i64', values)));
    expect(tensors.n).toEqual({ dtype: 'int32', shape: [5], data: Int32Array.of(0, -1, 42, 2 ** 31 - 1, -(2 ** 31)) });

    for (const bad of [2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n, -(2n ** 63n)]) {
      const bytes = file(header, le('i64', [0n, 1n, bad, 3n, 4n]));
      expectDecodeError(bytes, ['tensor "n"', `I64 value ${bad} at element 2 does not fit in int32`]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

/** An F32 entry. */
function f32(shape: number[], begin: number, end: number): string {
  return `{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;
}

const valid = file(`{"w":${f32([2], 0, 8)}}`, le('f32', [1, 2]));

const malformed: { name: string; bytes: Uint8Array; parts: string[]; opts?: { maxHeaderBytes?: number } }[] = [
  { name: 'empty file', bytes: new Uint8Array(0), parts: ['file is 0 bytes, too short'] },
  {
    name: 'file shorter than the length prefix',
    bytes: new Uint8Array(5),
    parts: ['too short for the 8-byte header length'],
  },
  {
    name: 'header length larger than the file',
    bytes: concat(u64(1000), new Uint8Array(10)),
    parts: ['header length 1000 exceeds the file (18 bytes'],
  },
  {
    name: 'header length above the 100 MB default',
    bytes: concat(u64(200_000_000), new Uint8Array(10)),
    parts: ['header length 200000000 exceeds the limit of 100000000'],
  },
  {
    name: 'header length above maxHeaderBytes',
    bytes: valid,
    opts: { maxHeaderBytes: 16 },
    parts: ['exceeds the limit of 16 bytes (maxHeaderBytes)'],
  },
  {
    name: 'header length not a safe integer',
    bytes: concat(u64(2n ** 64n - 1n), new Uint8Array(4)),
    parts: ['header length 18446744073709551615 is not a safe integer'],
  },
  { name: 'header length 2^53', bytes: concat(u64(2n ** 53n), new Uint8Array(4)), parts: ['is not a safe integer'] },
  { name: 'empty header', bytes: u64(0), parts: ['header is not valid JSON'] },
  {
    name: 'header not UTF-8',
    bytes: concat(u64(4), Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)),
    parts: ['header is not valid UTF-8'],
  },
  { name: 'header truncated JSON', bytes: file('{"w": {"dtype":'), parts: ['header is not valid JSON'] },
  {
    name: 'header padded with NUL bytes',
    bytes: concat(u64(8), new TextEncoder().encode('{}'), new Uint8Array(6)),
    parts: ['header is not valid JSON'],
  },
  { name: 'header is an array', bytes: file('[]'), parts: ['header must be a JSON object, got []'] },
  { name: 'header is null', bytes: file('null'), parts: ['header must be a JSON object, got null'] },
  { name: 'header is a number', bytes: file('42'), parts: ['header must be a JSON object, got 42'] },
  {
    name: 'duplicate tensor keys',
    bytes: file(`{"w":${f32([1], 0, 4)},"w":${f32([1], 0, 4)}}`, le('f32', [1])),
    parts: ['duplicate key "w"'],
  },
  {
    name: 'duplicate keys spelt differently',
    bytes: file(`{"w":${f32([1], 0, 4)},"\\u0077":${f32([1], 0, 4)}}`, le('f32', [1])),
    parts: ['duplicate key "w"'],
  },
  {
    name: 'duplicate field in an entry',
    bytes: file(`{"w":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}`, le('f32', [1])),
    parts: ['duplicate key "dtype" inside "w"'],
  },
  { name: 'entry is not an object', bytes: file('{"w":3}'), parts: ['tensor "w": entry must be an object', 'got 3'] },
  {
    name: 'entry is an array',
    bytes: file('{"w":[0,4]}'),
    parts: ['tensor "w": entry must be an object', 'got [0, 4]'],
  },
  {
    name: 'entry missing dtype',
    bytes: file('{"w":{"shape":[1],"data_offsets":[0,4]}}', le('f32', [1])),
    parts: ['tensor "w": missing "dtype"'],
  },
  {
    name: 'entry missing shape',
    bytes: file('{"w":{"dtype":"F32","data_offsets":[0,4]}}', le('f32', [1])),
    parts: ['tensor "w": missing "shape"'],
  },
  {
    name: 'entry missing data_offsets',
    bytes: file('{"w":{"dtype":"F32","shape":[1]}}', le('f32', [1])),
    parts: ['tensor "w": missing "data_offsets"'],
  },
  {
    name: 'dtype not a string',
    bytes: file('{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', le('f32', [1])),
    parts: ['tensor "w": "dtype" must be a string, got 4'],
  },
  {
    name: 'unknown dtype',
    bytes: file('{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', Uint8Array.of(1)),
    parts: ['tensor "w": unsupported dtype "F8_E4M3"', 'F32, F64, I32, F16, BF16, I64'],
  },
  {
    name: 'dtype named like an Object method',
    bytes: file('{"w":{"dtype":"toString","shape":[1],"data_offsets":[0,4]}}', le('f32', [1])),
    parts: ['tensor "w": unsupported dtype "toString"'],
  },
  {
    name: 'shape not an array',
    bytes: file('{"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}', le('f32', [1, 2, 3, 4])),
    parts: ['tensor "w": "shape" must be an array of non-negative integers, got 4'],
  },
  {
    name: 'negative dimension',
    bytes: file(`{"w":${f32([2, -1], 0, 8)}}`, le('f32', [1, 2])),
    parts: ['tensor "w": "shape" must be an array of non-negative integers, got [2, -1]'],
  },
  {
    name: 'fractional dimension',
    bytes: file(`{"w":${f32([1.5], 0, 6)}}`, new Uint8Array(6)),
    parts: ['tensor "w"', 'got [1.5]'],
  },
  {
    name: 'string dimension',
    bytes: file('{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}', le('f32', [1, 2])),
    parts: ['tensor "w"', 'got ["2"]'],
  },
  {
    name: 'dimension beyond 2^53',
    bytes: file('{"w":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}}', le('f32', [1])),
    parts: ['tensor "w"', 'got [1e+300]'],
  },
  {
    name: 'element count overflowing 2^53',
    bytes: file(`{"w":${f32([2 ** 30, 2 ** 30, 2 ** 30], 0, 4)}}`, le('f32', [1])),
    parts: ['tensor "w": shape [1073741824, 1073741824, 1073741824] of F32 is too large'],
  },
  {
    name: 'byte count overflowing 2^53',
    bytes: file(`{"w":${f32([2 ** 52], 0, 4)}}`, le('f32', [1])),
    parts: ['tensor "w": shape [4503599627370496] of F32 is too large'],
  },
  {
    name: 'data_offsets not a pair',
    bytes: file('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', le('f32', [1, 2])),
    parts: ['tensor "w": "data_offsets" must be [begin, end]', 'got [0, 4, 8]'],
  },
  {
    name: 'negative offset',
    bytes: file('{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}', le('f32', [1])),
    parts: ['tensor "w": "data_offsets" must be [begin, end]', 'got [-4, 0]'],
  },
  {
    name: 'reversed offsets',
    bytes: file(`{"w":${f32([0], 8, 0)}}`, le('f32', [1, 2])),
    parts: ['tensor "w": data_offsets [8, 0] are reversed'],
  },
  {
    name: 'offsets not matching the shape',
    bytes: file(`{"l0.W":${f32([4, 8], 0, 96)}}`, new Uint8Array(96)),
    parts: ['safetensors: tensor "l0.W": data_offsets [0, 96] do not match shape [4, 8] of F32 (128 bytes)'],
  },
  {
    name: 'a 10 GB tensor claimed in a ~100-byte file',
    bytes: file(`{"big":${f32([2_500_000_000], 0, 10_000_000_000)}}`, new Uint8Array(16)),
    parts: ['tensor "big": data_offsets [0, 10000000000] exceed the data buffer (16 bytes'],
  },
  {
    name: 'truncated data',
    bytes: valid.subarray(0, valid.length - 1),
    parts: ['tensor "w": data_offsets [0, 8] exceed the data buffer (7 bytes; is the file truncated?)'],
  },
  {
    name: 'overlapping tensors',
    bytes: file(`{"a":${f32([4], 0, 16)},"b":${f32([4], 8, 24)}}`, new Uint8Array(24)),
    parts: ['tensor "b": data_offsets [8, 24] overlap tensor "a" (which ends at 16)'],
  },
  {
    name: 'two tensors on the same bytes',
    bytes: file(`{"a":${f32([2], 0, 8)},"b":${f32([2], 0, 8)}}`, new Uint8Array(8)),
    parts: ['data_offsets [0, 8] overlap tensor', '(which ends at 8)'],
  },
  {
    name: 'gap between tensors',
    bytes: file(`{"a":${f32([4], 0, 16)},"b":${f32([4], 20, 36)}}`, new Uint8Array(36)),
    parts: ['tensor "b": data_offsets [20, 36] leave a gap of 4 bytes after tensor "a"'],
  },
  {
    name: 'gap before the first tensor',
    bytes: file(`{"a":${f32([4], 4, 20)}}`, new Uint8Array(20)),
    parts: ['tensor "a": data_offsets [4, 20] leave a gap of 4 bytes after the start of the data buffer'],
  },
  {
    name: 'trailing bytes after the last tensor',
    bytes: concat(valid, new Uint8Array(3)),
    parts: ['data buffer has 3 trailing bytes', 'the last tensor "w" ends at 8'],
  },
  {
    name: 'data but no tensors',
    bytes: file('{}', new Uint8Array(4)),
    parts: ['data buffer has 4 trailing bytes', 'no tensor is declared'],
  },
  {
    name: '__metadata__ not an object',
    bytes: file('{"__metadata__":"pt"}'),
    parts: ['"__metadata__" must be an object of strings, got "pt"'],
  },
  {
    name: '__metadata__ with a non-string value',
    bytes: file('{"__metadata__":{"epoch":3}}'),
    parts: ['"__metadata__" value of "epoch" must be a string, got 3'],
  },
  {
    name: 'very long hostile names are shortened in messages',
    bytes: file(`{"${'x'.repeat(10_000)}":7}`),
    parts: [`tensor "${'x'.repeat(80)}...": entry must be an object`],
  },
];

describe('safetensors codec: malformed input', () => {
  it('has a large table of cases', () => {
    expect(malformed.length).toBeGreaterThanOrEqual(12);
  });

  it.each(malformed)('rejects: $name', ({ bytes, parts, opts }) => {
    expectDecodeError(bytes, parts, opts);
  });

  it('accepts the base valid file and `"__metadata__": null`', () => {
    expect(Array.from(decodeSafetensors(valid).tensors.w.data)).toEqual([1, 2]);
    expect(decodeSafetensors(file('{"__metadata__":null}')).metadata).toEqual({});
  });

  it('does not allocate a claimed 10 GB tensor', () => {
    const bytes = file(`{"big":${f32([2_500_000_000], 0, 10_000_000_000)}}`, new Uint8Array(16));
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decodeSafetensors(bytes)).toThrow(/^safetensors: tensor "big"/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('rejects inconsistent tensors when encoding', () => {
    const cases: [Record<string, RawTensor>, string][] = [
      [
        { w: { dtype: 'float32', shape: [3], data: new Float32Array(2) } },
        'tensor "w": shape [3] has 3 elements but data has 2',
      ],
      [
        { w: { dtype: 'float32', shape: [2], data: new Float64Array(2) } },
        'tensor "w": dtype float32 needs a Float32Array, got Float64Array',
      ],
      [
        { w: { dtype: 'int32', shape: [-1], data: new Int32Array(0) } },
        'tensor "w": shape must be an array of non-negative integers',
      ],
      [
        { w: { dtype: 'uint8' as RawTensor['dtype'], shape: [1], data: new Int32Array(1) } },
        'tensor "w": unsupported dtype "uint8"',
      ],
      [
        { __metadata__: { dtype: 'int32', shape: [], data: new Int32Array(1) } },
        'tensor "__metadata__": that name is reserved for the metadata',
      ],
      [
        { 'bad\ud800': { dtype: 'int32', shape: [], data: new Int32Array(1) } },
        'tensor "bad\\ud800": the name is not well-formed UTF-16',
      ],
    ];
    for (const [tensors, part] of cases) {
      expect(() => encodeSafetensors(tensors)).toThrow(`safetensors: cannot encode ${part}`);
    }
    expect(() => encodeSafetensors({}, { k: 3 as unknown as string })).toThrow(
      'safetensors: cannot encode metadata "k"',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing
// ---------------------------------------------------------------------------------------------

/** Decodes, and checks that it either succeeds consistently or fails with a codec error. */
function decodesOrFailsCleanly(bytes: Uint8Array): void {
  let result: ReturnType<typeof decodeSafetensors>;
  try {
    result = decodeSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof Error) || e.constructor !== Error || !e.message.startsWith('safetensors: ')) {
      throw new Error(`leaked a non-codec error: ${String(e)}`);
    }
    return;
  }
  for (const t of Object.values(result.tensors)) {
    expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
  }
}

/** One edit of a byte string. */
type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'headerChar'; at: number; char: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 9 }) }),
  // JSON-ish characters inside the header: keeps it parseable more often, so the semantic
  // checks (shapes, offsets, tiling) are reached, not only the JSON parser.
  fc.record({
    kind: fc.constant('headerChar' as const),
    at: fc.nat(),
    char: fc.constantFrom(...'0123456789-.e,:[]{}" '),
  }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = bytes.length === 0 ? 0 : m.at % (bytes.length + 1);
  switch (m.kind) {
    case 'set': {
      const out = bytes.slice();
      if (at < out.length) out[at] = m.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, at);
    case 'insert':
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    case 'delete':
      return concat(bytes.subarray(0, at), bytes.subarray(at + m.count));
    case 'headerChar': {
      const out = bytes.slice();
      const headerLength = out.length >= 8 ? Number(new DataView(out.buffer).getBigUint64(0, true)) : 0;
      const span = Math.min(headerLength, out.length - 8);
      if (span > 0) out[8 + (m.at % span)] = m.char.charCodeAt(0);
      return out;
    }
  }
}

describe('safetensors codec: fuzzing', () => {
  it('mutated valid files decode or throw a safetensors: Error', () => {
    fc.assert(
      fc.property(validFileArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (bytes, mutations) => {
        decodesOrFailsCleanly(mutations.reduce(mutate, bytes));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('fully random bytes decode or throw a safetensors: Error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodesOrFailsCleanly), { seed: SEED, numRuns: 1000 });
  });

  it('random bytes behind a plausible header length decode or throw a safetensors: Error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (tail, n) => {
        decodesOrFailsCleanly(concat(u64(n % (tail.length + 1)), tail));
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('random JSON headers (arbitrary values where entries belong) decode or throw a safetensors: Error', () => {
    const dimArb = fc.oneof(fc.nat(40), fc.integer(), fc.double(), fc.string({ maxLength: 2 }), fc.constant(null));
    const entryArb = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record(
        {
          dtype: fc.constantFrom('F32', 'F64', 'I32', 'F16', 'BF16', 'I64', 'U8', '', 'hasOwnProperty'),
          shape: fc.oneof(fc.array(fc.nat(4), { maxLength: 3 }), fc.array(dimArb, { maxLength: 3 })),
          data_offsets: fc.oneof(fc.tuple(fc.nat(64), fc.nat(64)), fc.array(dimArb, { maxLength: 3 })),
        },
        { requiredKeys: [] },
      ),
    );
    const headerArb = fc.oneof(
      fc.dictionary(fc.oneof(fc.string({ maxLength: 3 }), fc.constant('__metadata__')), entryArb, { maxKeys: 4 }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 64 }), (header, data) => {
        decodesOrFailsCleanly(file(JSON.stringify(header) ?? 'null', data));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('a deeply nested header fails cleanly', () => {
    decodesOrFailsCleanly(file(`{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`));
    decodesOrFailsCleanly(file(`{"a":${'['.repeat(200_000)}`));
  });
});
