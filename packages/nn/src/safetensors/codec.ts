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

export { decodeSafetensors } from './decode.js';
export { DEFAULT_MAX_HEADER_BYTES, type DecodeOptions, type RawTensor, type SafeDType } from './dtypes.js';
export { encodeSafetensors } from './encode.js';
