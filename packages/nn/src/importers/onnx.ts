/**
 * ONNX `GRU` operator weights to and from wgru's GRU, exactly, read straight from an `.onnx` file.
 *
 * An ONNX GRU node has inputs `X, W, R, B, sequence_lens, initial_h` and the attributes
 * `hidden_size`, `direction` (forward | reverse | bidirectional), `linear_before_reset` and
 * `layout` (0: X [T, B, I]; 1: [B, T, I]). Its weights, per direction d (forward first), are
 * column vectors with the gates stacked z | r | h along the rows:
 *
 * ```
 * W [D, 3H, I]    R [D, 3H, H]    B [D, 6H] = [Wb_z Wb_r Wb_h | Rb_z Rb_r Rb_h]   (B optional: zeros)
 * z  = σ(W_z x + Wb_z + R_z h + Rb_z)      r = σ(W_r x + Wb_r + R_r h + Rb_r)
 * h̃  = tanh(W_h x + Wb_h + R_h (r ⊙ h) + Rb_h)          linear_before_reset = 0
 * h̃  = tanh(W_h x + Wb_h + r ⊙ (R_h h + Rb_h))          linear_before_reset = 1
 * h' = (1 − z) ⊙ h̃ + z ⊙ h
 * ```
 *
 * The import is `gruFromOnnx` (../onnx/convert.ts): W_seed = W_d^T, U_seed = R_d^T, the z blocks
 * negated (ONNX's z is wgru's 1 − z, and σ(−a) = 1 − σ(a)), b_z = −(Wb_z + Rb_z),
 * b_r = Wb_r + Rb_r, and b_h = Wb_h + Rb_h (linear_before_reset = 0, wgru resetAfter: false) or
 * b_h = Wb_h, c = Rb_h (linear_before_reset = 1, wgru resetAfter: true).
 *
 * The export {@link toOnnxGRUWeights} inverts it: W_d = [−W_z | W_r | W_h]^T, R_d likewise,
 * Wb = [−b_z, b_r, b_h], and Rb = [−0, −0, c] (resetAfter) or all −0: importing an export gives
 * back the very same bits (x + (−0) = x for every x).
 *
 * `sequence_lens` and `initial_h` are data, not weights: pass them to `GRU.forward` as `lengths`
 * and `h0`. The outputs map as Y [T, D, B, H] = output [T, B, D·H] reshaped to [T, B, D, H] with
 * axes 1 and 2 swapped (layout 1: Y [B, T, D, H] = output [B, T, D·H] reshaped), and Y_h [D, B, H]
 * = hN (layout 1: [B, D, H], hN with axes 0 and 1 swapped).
 */
import type { Tensor } from '@wgru/tensor';
import { gruFromOnnx, onnxRecurrentAttributes } from '../onnx/convert.js';
import { type OnnxNode, type OnnxTensor, readOnnxModel } from '../onnx/read.js';
import { GRU, GRUCell } from '../rnn/gru.js';
import {
  type Blocks,
  cellPrefix,
  checkOptions,
  convertWeights,
  exportSource,
  gates3,
  type GruLayout,
  type HostArray,
  type SeedCell,
  type ShapedArray,
  takeSeedCell,
  type WeightDict,
} from './common.js';

/** A tensor fed to the model: what `readTensorProto` returns for an ONNX test's `input_N.pb`. */
export interface OnnxTensorInput {
  dims: readonly number[];
  data: Float32Array;
}

/** What {@link fromOnnxGRU} found: options for `new GRU(...)`, its state dict, and the node. */
export interface OnnxGRUImport {
  /**
   * Pass to `new GRU(options)` (numLayers 1): resetAfter is linear_before_reset, batchFirst is
   * layout = 1, and bias is whether the node has a B input (without one, ONNX's biases are zeros:
   * a bias-free GRU).
   */
  options: {
    inputSize: number;
    hiddenSize: number;
    bidirectional: boolean;
    resetAfter: boolean;
    batchFirst: boolean;
    bias: boolean;
  };
  /** For `gru.loadStateDict`: `l0.*`, and `l0_reverse.*` when bidirectional (b and c only with B). */
  stateDict: Record<string, Float32Array>;
  /**
   * The node's direction. wgru's GRU has no reverse-only mode: for 'reverse' the weights are in
   * `l0.*`, and the caller runs the GRU on the time-reversed sequence (and reverses its output).
   */
  direction: 'forward' | 'reverse' | 'bidirectional';
  /** The GRU node itself: its input and output names (an unused output's name is ''). */
  node: OnnxNode;
}

/** Options of {@link fromOnnxGRU}. */
export interface FromOnnxGRUOptions {
  /** The GRU node's name, when the graph has more than one GRU. */
  node?: string;
}

/**
 * Reads the GRU node of an ONNX model (`.onnx` bytes) and its weights W, R and B, converted to a
 * wgru state dict (see the file comment for the mapping). Weights come from the model's
 * initializers or, when they are graph inputs (as in ONNX's backend test models, which feed them
 * as `input_N.pb`), from `inputs`, by the node's input names; a fed input overrides an initializer
 * of the same name, as in ONNX. Throws a clear Error for a missing GRU node or weight, misshapen
 * weights, and attributes wgru does not implement (other activations, clip).
 *
 * @example
 * ```ts
 * // An .onnx file's bytes (readFileSync('gru.onnx') in Node). Here a one-node model, a GRU with
 * // hidden_size 1 whose weights W and R are graph inputs, fed below as ONNX's test data feeds them:
 * const bytes = Uint8Array.from(atob('OicKJQoBWAoBVwoBUhIBWSIDR1JVKhIKC2hpZGRlbl9zaXplGAGgAQI='), (c) => c.charCodeAt(0));
 * const { options, stateDict } = fromOnnxGRU(bytes, {
 *   W: { dims: [1, 3, 2], data: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) },   // [D, 3H, I]
 *   R: { dims: [1, 3, 1], data: new Float32Array([0.7, 0.8, 0.9]) },                  // [D, 3H, H]
 * });
 * const gru = new GRU(options);   // inputSize 2, hiddenSize 1, bias: false (the node has no B)
 * gru.loadStateDict(stateDict);
 * ```
 */
export function fromOnnxGRU(
  modelBytes: Uint8Array,
  inputs: Record<string, OnnxTensorInput> = {},
  opts: FromOnnxGRUOptions = {},
): OnnxGRUImport {
  const fn = 'fromOnnxGRU';
  checkOptions(fn, opts, ['node']);
  if (inputs === null || typeof inputs !== 'object')
    throw new Error(`${fn}: inputs must be an object of { dims, data } by name`);
  const model = readOnnxModel(modelBytes);
  const grus = model.nodes.filter((n) => n.opType === 'GRU' && (opts.node === undefined || n.name === opts.node));
  if (grus.length === 0) {
    const ops = model.nodes.map((n) => `${n.opType}${n.name ? ` '${n.name}'` : ''}`).join(', ') || 'none';
    throw new Error(
      `${fn}: the model has no GRU node${opts.node === undefined ? '' : ` named '${opts.node}'`} (nodes: ${ops})`,
    );
  }
  if (grus.length > 1)
    throw new Error(
      `${fn}: the model has ${grus.length} GRU nodes (${grus.map((n) => `'${n.name}'`).join(', ')}); pick one with { node: name }`,
    );
  const node = grus[0] as OnnxNode;
  const attrs = onnxRecurrentAttributes(node);
  const H = attrs.hiddenSize;
  const D = attrs.numDirections;

  const weight = (slot: number, what: string, optional: boolean): OnnxTensor | OnnxTensorInput | undefined => {
    const name = node.inputs[slot] ?? '';
    if (name === '') {
      if (optional) return undefined;
      throw new Error(`${fn}: the GRU node has no ${what} input`);
    }
    const t = inputs[name] ?? model.initializers.get(name);
    if (!t) {
      throw new Error(
        `${fn}: ${what} ('${name}') is neither an initializer of the model nor in inputs (given: ${Object.keys(inputs).join(', ') || 'none'})`,
      );
    }
    if (!(t.data instanceof Float32Array)) throw new Error(`${fn}: ${what} ('${name}') must hold float32 values`);
    return t;
  };
  const W = weight(1, 'W', false) as OnnxTensorInput;
  const R = weight(2, 'R', false) as OnnxTensorInput;
  const B = weight(3, 'B', true) as OnnxTensorInput | undefined;
  if (W.dims.length !== 3 || !((W.dims[2] as number) > 0))
    throw new Error(`${fn}: W has dims [${W.dims.join(', ')}]; expected [${D}, ${3 * H}, inputSize]`);
  const I = W.dims[2] as number;
  const expect = (t: OnnxTensorInput, what: string, dims: number[]) => {
    if (
      t.dims.length !== dims.length ||
      t.dims.some((d, k) => d !== dims[k]) ||
      t.data.length !== dims.reduce((a, b) => a * b, 1)
    ) {
      throw new Error(
        `${fn}: ${what} has dims [${t.dims.join(', ')}] (${t.data.length} values); expected [${dims.join(', ')}] for hidden_size ${H}, ${D} direction(s)`,
      );
    }
  };
  expect(W, 'W', [D, 3 * H, I]);
  expect(R, 'R', [D, 3 * H, H]);
  if (B) expect(B, 'B', [D, 6 * H]);

  const cells = gruFromOnnx({
    W: W.data,
    R: R.data,
    ...(B ? { B: B.data } : {}),
    hiddenSize: H,
    linearBeforeReset: attrs.linearBeforeReset,
  });
  const stateDict: Record<string, Float32Array> = {};
  cells.forEach((c, d) => {
    const p = cellPrefix(0, d);
    stateDict[`${p}W`] = c.W;
    stateDict[`${p}U`] = c.U;
    // Without B, ONNX's biases are zeros: a GRU without biases computes exactly that.
    if (B) stateDict[`${p}b`] = c.b;
    if (B && c.c) stateDict[`${p}c`] = c.c;
  });
  return {
    options: {
      inputSize: I,
      hiddenSize: H,
      bidirectional: D === 2,
      resetAfter: attrs.linearBeforeReset,
      batchFirst: attrs.layout === 1,
      bias: B !== undefined,
    },
    stateDict,
    direction: attrs.direction,
    node,
  };
}

/** ONNX GRU weights and the attributes they go with, as {@link toOnnxGRUWeights} returns them. */
export interface OnnxGRUWeights<V> {
  /** [D, 3H, I], gates z | r | h. */
  W: V;
  /** [D, 3H, H]. */
  R: V;
  /** [D, 6H] = [Wb | Rb]; absent for a GRU without biases (ONNX then uses zeros). */
  B?: V;
  /** The node attributes these weights need. */
  attributes: { hidden_size: number; direction: 'forward' | 'bidirectional'; linear_before_reset: 0 | 1 };
}

/** Which layer of a multi-layer GRU to export: an ONNX GRU node is one layer. */
export interface OnnxExportOptions {
  layer?: number;
}

/** wgru → ONNX for one direction: W_d [3H, I], R_d [3H, H], Wb_d, Rb_d [3H]. */
function seedToOnnx<M>(A: Blocks<M>, s: SeedCell<M>, H: number, lbr: boolean): { W: M; R: M; Wb?: M; Rb?: M } {
  const [Wz, Wr, Wh] = gates3(A, s.W, 1, H);
  const [Uz, Ur, Uh] = gates3(A, s.U, 1, H);
  const W = A.transpose(A.cat([A.neg(Wz), Wr, Wh], 1));
  const R = A.transpose(A.cat([A.neg(Uz), Ur, Uh], 1));
  if (!s.b) return { W, R };
  const [bz, br, bh] = gates3(A, s.b, 0, H);
  const Wb = A.cat([A.neg(bz), br, bh], 0);
  const Rb = lbr ? A.cat([A.negativeZeros([H]), A.negativeZeros([H]), s.c as M], 0) : A.negativeZeros([3 * H]);
  return { W, R, Wb, Rb };
}

/**
 * One layer of a wgru GRU (or a GRUCell) to ONNX GRU weights W, R, B with the attributes of the
 * node they belong to (linear_before_reset = resetAfter; direction forward, or bidirectional): the
 * inverse of {@link fromOnnxGRU}'s conversion. Given a module, fresh Tensors on its backend; given
 * a wgru state dict of host arrays and its layout, `{ shape, data }` arrays. A GRU with several
 * layers needs `{ layer }` (an ONNX GRU node is one layer: chain one node per layer).
 *
 * @example
 * ```ts
 * const gru = new GRU({ inputSize: 3, hiddenSize: 2, resetAfter: true, seed: 0 });
 * const { W, R, B, attributes } = toOnnxGRUWeights(gru);   // W [1, 6, 3], R [1, 6, 2], B [1, 12]
 * attributes.linear_before_reset;                         // 1, from resetAfter: true
 * ```
 */
export function toOnnxGRUWeights(source: GRU | GRUCell, opts?: OnnxExportOptions): OnnxGRUWeights<Tensor>;
export function toOnnxGRUWeights(
  source: Record<string, Tensor>,
  layout: GruLayout & OnnxExportOptions,
): OnnxGRUWeights<Tensor>;
export function toOnnxGRUWeights<A extends HostArray>(
  source: Record<string, A | ShapedArray<A>>,
  layout: GruLayout & OnnxExportOptions,
): OnnxGRUWeights<ShapedArray<A>>;
export function toOnnxGRUWeights(
  source: GRU | GRUCell | WeightDict,
  opts?: OnnxExportOptions | (GruLayout & OnnxExportOptions),
): OnnxGRUWeights<Tensor | ShapedArray>;
export function toOnnxGRUWeights(
  source: GRU | GRUCell | WeightDict,
  opts: OnnxExportOptions | (GruLayout & OnnxExportOptions) = {},
): OnnxGRUWeights<Tensor | ShapedArray> {
  const fn = 'toOnnxGRUWeights';
  const { layer: chosen, ...layout } = opts as GruLayout & OnnxExportOptions;
  const isModule = source instanceof GRU || source instanceof GRUCell;
  if (isModule) checkOptions(fn, layout, []);
  const s = exportSource(fn, source, isModule ? undefined : layout, false, 'both');
  if (chosen === undefined && s.numLayers > 1)
    throw new Error(
      `${fn}: the GRU has ${s.numLayers} layers and an ONNX GRU node is one: pass { layer } (and chain one node per layer)`,
    );
  const layer = chosen ?? 0;
  if (!Number.isInteger(layer) || layer < 0 || layer >= s.numLayers)
    throw new Error(`${fn}: layer must be an integer in [0, ${s.numLayers}), got ${layer}`);
  const [H, D] = [s.hiddenSize, s.bidirectional ? 2 : 1];
  const I = layer === 0 ? s.inputSize : D * H;
  const prefixes = Array.from({ length: D }, (_, d) => (s.cell ? '' : cellPrefix(layer, d)));
  const dict = s.cell
    ? s.dict
    : Object.fromEntries(Object.entries(s.dict).filter(([k]) => prefixes.some((p) => k.startsWith(p))));
  const out = convertWeights(fn, dict, (A, take, takeOptional) => {
    const dirs = prefixes.map((p) =>
      seedToOnnx(A, takeSeedCell(take, takeOptional, p, I, H, s.resetAfter), H, s.resetAfter),
    );
    const result: Record<string, ReturnType<typeof take>> = {
      W: A.reshape(
        A.cat(
          dirs.map((d) => d.W),
          0,
        ),
        [D, 3 * H, I],
      ),
      R: A.reshape(
        A.cat(
          dirs.map((d) => d.R),
          0,
        ),
        [D, 3 * H, H],
      ),
    };
    if (dirs.every((d) => d.Wb && d.Rb))
      result.B = A.reshape(
        A.cat(
          dirs.flatMap((d) => [d.Wb as ReturnType<typeof take>, d.Rb as ReturnType<typeof take>]),
          0,
        ),
        [D, 6 * H],
      );
    return result;
  });
  const attributes = {
    hidden_size: H,
    direction: D === 2 ? ('bidirectional' as const) : ('forward' as const),
    linear_before_reset: s.resetAfter ? (1 as const) : (0 as const),
  };
  return {
    W: out.W as Tensor | ShapedArray,
    R: out.R as Tensor | ShapedArray,
    ...(out.B ? { B: out.B } : {}),
    attributes,
  };
}
