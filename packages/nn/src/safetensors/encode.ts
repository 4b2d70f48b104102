/** The safetensors writer: plain tensors to bytes (the format is described in ./codec.ts). */
import { type RawTensor, METADATA_KEY, WRITABLE, LONE_SURROGATE, toLittleEndian } from './dtypes.js';
import { fail, elementCount, compareCodePoints, quote, formatDims, describe, typeName } from './helpers.js';

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
