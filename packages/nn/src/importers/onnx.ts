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
 * back the very same bits (x + (−0) = x for every x). With recurrentBias (c [3H]), Rb = [−c_z, c_r,
 * c_h], and `fromOnnxGRU(bytes, {}, { recurrentBias: true })` keeps Wb and Rb apart the same way.
 *
 * `sequence_lens` and `initial_h` are data, not weights: pass them to `GRU.forward` as `lengths`
 * and `h0`. The outputs map as Y [T, D, B, H] = output [T, B, D·H] reshaped to [T, B, D, H] with
 * axes 1 and 2 swapped (layout 1: Y [B, T, D, H] = output [B, T, D·H] reshaped), and Y_h [D, B, H]
 * = hN (layout 1: [B, D, H], hN with axes 0 and 1 swapped).
 */
import { gruFromOnnx, onnxRecurrentAttributes } from '../onnx/convert.js';
import { type OnnxModel, type OnnxNode, type OnnxTensor, readOnnxModel } from '../onnx/read.js';
import { checkOptions } from './common.js';
import { gruChain } from './onnx-chain.js';

/** A tensor fed to the model: what `readTensorProto` returns for an ONNX test's `input_N.pb`. */
export interface OnnxTensorInput {
  dims: readonly number[];
  data: Float32Array;
}

/** What {@link fromOnnxGRU} found: options for `new GRU(...)`, its state dict, and the nodes. */
export interface OnnxGRUImport {
  /**
   * Pass to `new GRU(options)`: numLayers is the number of GRU nodes chained (1 for one node),
   * resetAfter is linear_before_reset, batchFirst is layout = 1, and bias is whether the nodes
   * have a B input (without one, ONNX's biases are zeros: a bias-free GRU). recurrentBias is
   * there when asked for.
   */
  options: {
    inputSize: number;
    hiddenSize: number;
    numLayers: number;
    bidirectional: boolean;
    resetAfter: boolean;
    batchFirst: boolean;
    bias: boolean;
    recurrentBias?: boolean;
  };
  /** For `gru.loadStateDict`: `l{k}.*`, and `l{k}_reverse.*` when bidirectional (b and c only with B). */
  stateDict: Record<string, Float32Array>;
  /**
   * The nodes' direction. wgru's GRU has no reverse-only mode: for 'reverse' (one node only) the
   * weights are in `l0.*`, and the caller runs the GRU on the time-reversed sequence (and
   * reverses its output).
   */
  direction: 'forward' | 'reverse' | 'bidirectional';
  /** The (first) GRU node itself: its input and output names (an unused output's name is ''). */
  node: OnnxNode;
  /** Every GRU node imported, one per layer, first layer first. */
  nodes: OnnxNode[];
}

/** Options of {@link fromOnnxGRU}. */
export interface FromOnnxGRUOptions {
  /** The GRU node's name, to import that one node when the graph has several. */
  node?: string;
  /**
   * With linear_before_reset = 1: keep the recurrent biases Rb as wgru's c [3H] rather than
   * summing Rb_z and Rb_r into b, for a GRU made with recurrentBias: true (default false).
   */
  recurrentBias?: boolean;
}

/**
 * Reads the GRU of an ONNX model (`.onnx` bytes) and its weights W, R and B, converted to a wgru
 * state dict (see the file comment for the mapping). A chain of GRU nodes, as `torch.onnx.export`
 * writes a multi-layer (and bidirectional) `nn.GRU`, one node per layer, becomes one multi-layer
 * GRU (see ./onnx-chain.ts); `{ node: name }` imports one node alone. Weights come from the model's
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
  checkOptions(fn, opts, ['node', 'recurrentBias']);
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
  let nodes = grus;
  if (grus.length > 1) {
    const chain = opts.node === undefined ? gruChain(model) : 'they have the same name';
    if (typeof chain === 'string')
      throw new Error(
        `${fn}: the model has ${grus.length} GRU nodes (${grus.map((n) => `'${n.name}'`).join(', ')}) that are not the layers of one GRU (${chain}); pick one with { node: name }`,
      );
    nodes = chain;
  }
  const layers = nodes.map((node, k) => importNode(fn, model, inputs, node, opts.recurrentBias ?? false, k));
  const first = layers[0] as ImportedLayer;
  const D = first.D;
  layers.forEach((l, k) => {
    const same = (what: string, a: unknown, b: unknown) => {
      if (a !== b)
        throw new Error(`${fn}: GRU node '${l.node.name}' (layer ${k}) has ${what} ${String(a)}, layer 0 ${String(b)}`);
    };
    same('hidden_size', l.H, first.H);
    same('direction', l.direction, first.direction);
    same('linear_before_reset', l.resetAfter, first.resetAfter);
    same('layout', l.batchFirst, first.batchFirst);
    same('a B input', l.bias, first.bias);
    if (k > 0) same('input size', l.I, D * first.H);
  });
  if (layers.length > 1 && first.direction === 'reverse')
    throw new Error(`${fn}: a chain of reverse-only GRU nodes has no wgru equivalent; pick one with { node: name }`);
  const stateDict: Record<string, Float32Array> = {};
  layers.forEach((l, k) => {
    for (const [key, v] of Object.entries(l.weights)) stateDict[`l${k}${key}`] = v;
  });
  const recurrentBias = opts.recurrentBias === true && first.resetAfter;
  return {
    options: {
      inputSize: first.I,
      hiddenSize: first.H,
      numLayers: layers.length,
      bidirectional: D === 2,
      resetAfter: first.resetAfter,
      batchFirst: first.batchFirst,
      bias: first.bias,
      ...(recurrentBias ? { recurrentBias } : {}),
    },
    stateDict,
    direction: first.direction,
    node: first.node,
    nodes,
  };
}

/** One GRU node's weights as a wgru layer (keys `.W`, `_reverse.W`, ... to put after `l{k}`). */
interface ImportedLayer {
  node: OnnxNode;
  I: number;
  H: number;
  D: number;
  direction: 'forward' | 'reverse' | 'bidirectional';
  resetAfter: boolean;
  batchFirst: boolean;
  bias: boolean;
  weights: Record<string, Float32Array>;
}

/** Reads and converts one GRU node's W, R and B. */
function importNode(
  fn: string,
  model: OnnxModel,
  inputs: Record<string, OnnxTensorInput>,
  node: OnnxNode,
  recurrentBias: boolean,
  layer: number,
): ImportedLayer {
  const attrs = onnxRecurrentAttributes(node);
  const H = attrs.hiddenSize;
  const D = attrs.numDirections;
  const which = layer === 0 ? 'the GRU node' : `GRU node '${node.name}'`;
  const weight = (slot: number, what: string, optional: boolean): OnnxTensor | OnnxTensorInput | undefined => {
    const name = node.inputs[slot] ?? '';
    if (name === '') {
      if (optional) return undefined;
      throw new Error(`${fn}: ${which} has no ${what} input`);
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
  if (W.dims.length !== 3 || !(W.dims[2] > 0))
    throw new Error(`${fn}: W has dims [${W.dims.join(', ')}]; expected [${D}, ${3 * H}, inputSize]`);
  const I = W.dims[2];
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
    recurrentBias,
  });
  const weights: Record<string, Float32Array> = {};
  cells.forEach((c, d) => {
    const p = d === 0 ? '.' : '_reverse.';
    weights[`${p}W`] = c.W;
    weights[`${p}U`] = c.U;
    // Without B, ONNX's biases are zeros: a GRU without biases computes exactly that.
    if (B) weights[`${p}b`] = c.b;
    if (B && c.c) weights[`${p}c`] = c.c;
  });
  return {
    node,
    I,
    H,
    D,
    direction: attrs.direction,
    resetAfter: attrs.linearBeforeReset,
    batchFirst: attrs.layout === 1,
    bias: B !== undefined,
    weights,
  };
}

export { type OnnxExportOptions, type OnnxGRUWeights, toOnnxGRUWeights } from './onnx-export.js';
