/**
 * Keras (and TensorFlow.js) `GRU` layer weights to and from one wgru GRU cell, exactly.
 *
 * A Keras GRU layer's `get_weights()` / tfjs `layer.getWeights()` is `[kernel, recurrent_kernel,
 * bias]`, row vectors as in wgru, gates stacked z | r | h along the columns as in wgru:
 *
 * ```
 * kernel [I, 3H]    recurrent_kernel [H, 3H]
 * bias [3H] (reset_after=False)   or   [2, 3H] (reset_after=True: row 0 input bias, row 1 recurrent bias)
 * z  = σ(x K_z + h R_z + b_z)                      (bias = b_in + b_rec with reset_after)
 * r  = σ(x K_r + h R_r + b_r)
 * hh = tanh(x K_h + (r ⊙ h) R_h + b_h)             reset_after=False
 * hh = tanh(x K_h + b_in,h + r ⊙ (h R_h + b_rec,h)) reset_after=True
 * h' = z ⊙ h + (1 − z) ⊙ hh
 * ```
 *
 * wgru's update is h' = (1 − z) ⊙ h + z ⊙ h̃: Keras's z is wgru's 1 − z. Since σ(−a) = 1 − σ(a),
 * negating the z columns of both kernels and the z biases maps one onto the other exactly:
 * - W = [−K_z | K_r | K_h], U = [−R_z | R_r | R_h] (no transpose, no reordering);
 * - reset_after=False → wgru resetAfter: false, b = [−b_z, b_r, b_h];
 * - reset_after=True → wgru resetAfter: true, b = [−(b_in,z + b_rec,z), b_in,r + b_rec,r, b_in,h]
 *   (the two sums are the only roundings) and c = b_rec,h (it sits inside the reset product).
 *
 * The exporter inverts this; for reset_after=True it puts the whole z and r biases in the input
 * row and −0 in the recurrent row's z and r blocks, so that importing an export gives back the
 * very same bits (x + (−0) = x for every x).
 *
 * With `recurrentBias: true` (reset_after=True, into a GRU made with recurrentBias: true) the two
 * rows are kept apart: b = [−b_in,z, b_in,r, b_in,h] and c = [−b_rec,z, b_rec,r, b_rec,h] [3H], so
 * that each trains on its own, as in Keras, and the export gives the bias back bit for bit.
 *
 * Scope: one Keras layer is one direction of one layer of a wgru GRU (`prefix` picks which: `l0.`
 * by default, `l1.` for a second stacked layer, `l0_reverse.` for the backward layer of a Keras
 * `Bidirectional`, `''` for a GRUCell). Keras feeds [B, T, I]: use `batchFirst: true`. The mapping
 * assumes Keras's default activations, `activation='tanh'` and `recurrent_activation='sigmoid'`
 * (note TensorFlow.js's GRU defaults to `'hardSigmoid'`: pass `recurrentActivation: 'sigmoid'`).
 *
 * Examples are on {@link fromKerasGRU} and {@link toKerasGRU}.
 */
import type { Tensor } from '@wgru/tensor';
import { Tensor as TensorClass } from '@wgru/tensor';
import { GRU, GRUCell } from '../rnn/gru.js';
import {
  type Blocks,
  cellPrefix,
  checkOptions,
  checkRecurrentBiasOption,
  checkSize,
  convertWeights,
  exportSource,
  flatten,
  gates3,
  type HostArray,
  putSeedCell,
  type SeedCell,
  type ShapedArray,
  takeSeedCell,
  type WeightDict,
  type WeightValue,
} from './common.js';

/** A Keras GRU layer's weights: `[kernel, recurrent_kernel]`, plus `bias` when use_bias. */
export type KerasGRUWeights<V> = [kernel: V, recurrentKernel: V] | [kernel: V, recurrentKernel: V, bias: V];

export interface KerasGRUOptions {
  inputSize: number;
  hiddenSize: number;
  /**
   * The layer's reset_after. With a bias it is read off the bias's size (3H: false, 6H: true) and,
   * when given, checked; without a bias (use_bias=False) it must be given.
   */
  resetAfter?: boolean;
  /** The wgru key prefix of the cell the weights become (default `l0.`; `''` for a GRUCell). */
  prefix?: string;
  /** Keep the recurrent bias row as wgru's c [3H] (reset_after=True, a GRU with recurrentBias: true; default false). */
  recurrentBias?: boolean;
}

/** Which cell of a GRU module to export (default layer 0, forward). */
export interface KerasExportOptions {
  layer?: number;
  reverse?: boolean;
}

/** A wgru state dict with its layout, for {@link toKerasGRU}. */
export interface KerasExportLayout {
  /** The input size of this cell (D·H for layers above the first). */
  inputSize: number;
  hiddenSize: number;
  resetAfter: boolean;
  /** Whether c is [3H] (recurrentBias: true). Default false. */
  recurrentBias?: boolean;
  /** The wgru key prefix of the cell to export (default `l0.`; `''` for a GRUCell's keys). */
  prefix?: string;
}

interface KerasCell<M> {
  kernel: M;
  rec: M;
  bias?: M;
}

/** Keras → wgru for one layer (see the file comment). */
function kerasToSeed<M>(A: Blocks<M>, k: KerasCell<M>, H: number, resetAfter: boolean, split: boolean): SeedCell<M> {
  const [Kz, Kr, Kh] = gates3(A, k.kernel, 1, H);
  const [Rz, Rr, Rh] = gates3(A, k.rec, 1, H);
  const W = A.cat([A.neg(Kz), Kr, Kh], 1);
  const U = A.cat([A.neg(Rz), Rr, Rh], 1);
  if (!k.bias) return { W, U };
  if (!resetAfter) {
    const [bz, br, bh] = gates3(A, k.bias, 0, H);
    return { W, U, b: A.cat([A.neg(bz), br, bh], 0) };
  }
  const [inZ, inR, inH] = gates3(A, A.reshape(A.part(k.bias, 0, 0, 1), [3 * H]), 0, H);
  const [recZ, recR, recH] = gates3(A, A.reshape(A.part(k.bias, 0, 1, 1), [3 * H]), 0, H);
  if (split) return { W, U, b: A.cat([A.neg(inZ), inR, inH], 0), c: A.cat([A.neg(recZ), recR, recH], 0) };
  return { W, U, b: A.cat([A.neg(A.add(inZ, recZ)), A.add(inR, recR), inH], 0), c: recH };
}

/** wgru → Keras for one cell: the inverse of kerasToSeed, with −0 in the recurrent z, r biases. */
function seedToKeras<M>(A: Blocks<M>, s: SeedCell<M>, H: number, resetAfter: boolean, split: boolean): KerasCell<M> {
  const [Wz, Wr, Wh] = gates3(A, s.W, 1, H);
  const [Uz, Ur, Uh] = gates3(A, s.U, 1, H);
  const kernel = A.cat([A.neg(Wz), Wr, Wh], 1);
  const rec = A.cat([A.neg(Uz), Ur, Uh], 1);
  if (!s.b) return { kernel, rec };
  const [bz, br, bh] = gates3(A, s.b, 0, H);
  const input = [A.neg(bz), br, bh];
  if (!resetAfter) return { kernel, rec, bias: A.cat(input, 0) };
  const [cz, cr, ch] = split ? gates3(A, s.c as M, 0, H) : [];
  const recurrent = split ? [A.neg(cz as M), cr as M, ch as M] : [A.negativeZeros([H]), A.negativeZeros([H]), s.c as M];
  return { kernel, rec, bias: A.reshape(A.cat([...input, ...recurrent], 0), [2, 3 * H]) };
}

const sizeOf = (v: WeightValue) =>
  v instanceof TensorClass ? v.size : v instanceof Float32Array || v instanceof Float64Array ? v.length : v.data.length;

/**
 * A Keras GRU layer's weights `[kernel, recurrent_kernel, bias]` to a wgru state dict (keys
 * `l0.W`, `l0.U`, `l0.b`, and `l0.c` with reset_after=True; see `prefix`) for
 * `new GRU({ inputSize, hiddenSize, resetAfter, batchFirst: true })`, resetAfter being the layer's
 * reset_after (returned keys tell: `c` is there exactly when resetAfter and a bias). Values as in
 * {@link fromPyTorchGRU}: Tensors give Tensors, host arrays give host arrays of the same kind.
 *
 * @example
 * ```ts
 * const w = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b)).map(() => Math.random() - 0.5) });
 * // keras.layers.GRU(2, reset_after=True) on 3 features: layer.get_weights() is [kernel [3, 6],
 * // recurrent_kernel [2, 6], bias [2, 6]], here as { shape, data } (TensorFlow.js:
 * // layer.getWeights().map((t) => ({ shape: t.shape, data: t.dataSync() }))):
 * const gru = new GRU({ inputSize: 3, hiddenSize: 2, resetAfter: true, batchFirst: true });
 * gru.loadStateDict(fromKerasGRU([w(3, 6), w(2, 6), w(2, 6)], { inputSize: 3, hiddenSize: 2 }));
 * ```
 */
export function fromKerasGRU(weights: KerasGRUWeights<Tensor>, opts: KerasGRUOptions): Record<string, Tensor>;
export function fromKerasGRU<A extends HostArray>(
  weights: KerasGRUWeights<A | ShapedArray<A>>,
  opts: KerasGRUOptions,
): Record<string, A>;
export function fromKerasGRU(
  weights: KerasGRUWeights<WeightValue>,
  opts: KerasGRUOptions,
): Record<string, Tensor | HostArray>;
export function fromKerasGRU(
  weights: KerasGRUWeights<WeightValue>,
  opts: KerasGRUOptions,
): Record<string, Tensor | HostArray> {
  const fn = 'fromKerasGRU';
  checkOptions(fn, opts, ['inputSize', 'hiddenSize', 'resetAfter', 'prefix', 'recurrentBias']);
  const I = checkSize(fn, 'inputSize', opts.inputSize);
  const H = checkSize(fn, 'hiddenSize', opts.hiddenSize);
  const prefix = opts.prefix ?? 'l0.';
  if (!Array.isArray(weights) || (weights.length !== 2 && weights.length !== 3)) {
    throw new Error(
      `${fn}: weights must be [kernel, recurrent_kernel, bias] or, without a bias, [kernel, recurrent_kernel]`,
    );
  }
  const [kernel, rec, bias] = weights;
  let resetAfter = opts.resetAfter;
  if (bias === undefined) {
    if (resetAfter === undefined)
      throw new Error(
        `${fn}: without a bias, resetAfter cannot be read off the weights: pass the layer's reset_after as resetAfter`,
      );
  } else {
    const n = sizeOf(bias);
    if (n !== 3 * H && n !== 6 * H)
      throw new Error(
        `${fn}: bias has ${n} values; expected ${3 * H} ([3H], reset_after=False) or ${6 * H} ([2, 3H], reset_after=True)`,
      );
    if (resetAfter !== undefined && resetAfter !== (n === 6 * H)) {
      throw new Error(
        `${fn}: resetAfter is ${resetAfter} but the bias has ${n} values, as for reset_after=${n === 6 * H ? 'True' : 'False'}`,
      );
    }
    resetAfter = n === 6 * H;
  }
  const ra = resetAfter as boolean;
  const split = checkRecurrentBiasOption(fn, opts.recurrentBias, ra);
  const dict: WeightDict =
    bias === undefined ? { kernel, recurrent_kernel: rec } : { kernel, recurrent_kernel: rec, bias };
  const out = convertWeights(fn, dict, (A, take, takeOptional) => {
    const k = {
      kernel: take('kernel', [I, 3 * H], 'kernel, gates z | r | h'),
      rec: take('recurrent_kernel', [H, 3 * H], 'recurrent_kernel, gates z | r | h'),
    };
    const b = takeOptional(
      'bias',
      ra ? [2, 3 * H] : [3 * H],
      ra ? 'bias, rows input | recurrent' : 'bias, gates z | r | h',
    );
    const result: Record<string, ReturnType<typeof take>> = {};
    putSeedCell(result, prefix, kerasToSeed(A, b ? { ...k, bias: b } : k, H, ra, split));
    return result;
  });
  return flatten(out);
}

/**
 * One cell of a wgru GRU (or a GRUCell) to a Keras GRU layer's weights `[kernel,
 * recurrent_kernel, bias]` (bias [3H] for resetAfter: false, reset_after=False; [2, 3H] for
 * resetAfter: true, reset_after=True; absent for a bias-free GRU): the inverse of
 * {@link fromKerasGRU}. Given a module, fresh Tensors on its backend; given a wgru state dict of
 * host arrays with its layout, `{ shape, data }` arrays in Keras's shapes.
 *
 * @example
 * ```ts
 * const gru = new GRU({ inputSize: 3, hiddenSize: 2, resetAfter: true, batchFirst: true, seed: 0 });
 * const weights = toKerasGRU(gru);   // [kernel [3, 6], recurrent_kernel [2, 6], bias [2, 6]]
 * weights.map((t) => t.shape);       // for Keras: layer.set_weights(...) of GRU(2, reset_after=True)
 * ```
 */
export function toKerasGRU(source: GRU | GRUCell, opts?: KerasExportOptions): KerasGRUWeights<Tensor>;
export function toKerasGRU(source: Record<string, Tensor>, layout: KerasExportLayout): KerasGRUWeights<Tensor>;
export function toKerasGRU<A extends HostArray>(
  source: Record<string, A | ShapedArray<A>>,
  layout: KerasExportLayout,
): KerasGRUWeights<ShapedArray<A>>;
export function toKerasGRU(
  source: GRU | GRUCell | WeightDict,
  opts?: KerasExportOptions | KerasExportLayout,
): KerasGRUWeights<Tensor | ShapedArray>;
export function toKerasGRU(
  source: GRU | GRUCell | WeightDict,
  opts: KerasExportOptions | KerasExportLayout = {},
): KerasGRUWeights<Tensor | ShapedArray> {
  const fn = 'toKerasGRU';
  let dict: WeightDict;
  let prefix: string;
  let I: number;
  let H: number;
  let resetAfter: boolean;
  let split: boolean;
  if (source instanceof GRU || source instanceof GRUCell) {
    checkOptions(fn, opts, ['layer', 'reverse']);
    const o = opts as KerasExportOptions;
    const s = exportSource(fn, source, undefined, false, 'both');
    const layer = o.layer ?? 0;
    if (!Number.isInteger(layer) || layer < 0 || layer >= s.numLayers)
      throw new Error(`${fn}: layer must be an integer in [0, ${s.numLayers}), got ${layer}`);
    if (o.reverse && !s.bidirectional) throw new Error(`${fn}: reverse: true, but the GRU is not bidirectional`);
    if (s.cell && (o.layer !== undefined || o.reverse !== undefined))
      throw new Error(`${fn}: layer and reverse apply to a GRU, not to a GRUCell`);
    prefix = s.cell ? '' : cellPrefix(layer, o.reverse ? 1 : 0);
    I = layer === 0 ? s.inputSize : (s.bidirectional ? 2 : 1) * s.hiddenSize;
    H = s.hiddenSize;
    resetAfter = s.resetAfter;
    split = s.recurrentBias;
    dict = s.dict;
  } else {
    const { prefix: p, ...layout } = opts as KerasExportLayout;
    const s = exportSource(fn, source, layout, true, 'both');
    prefix = p ?? 'l0.';
    [I, H, resetAfter, split, dict] = [s.inputSize, s.hiddenSize, s.resetAfter, s.recurrentBias, s.dict];
  }
  // Only the chosen cell's keys: the other layers and directions are not this export's business.
  const mine = Object.fromEntries(Object.entries(dict).filter(([k]) => k.startsWith(prefix)));
  const out = convertWeights(fn, mine, (A, take, takeOptional) => {
    const cell = takeSeedCell(take, takeOptional, prefix, I, H, resetAfter, split);
    const k = seedToKeras(A, cell, H, resetAfter, split);
    const result: Record<string, ReturnType<typeof take>> = { kernel: k.kernel, recurrent_kernel: k.rec };
    if (k.bias) result.bias = k.bias;
    return result;
  });
  const { kernel, recurrent_kernel: rec, bias } = out as Record<string, Tensor | ShapedArray>;
  return bias
    ? [kernel as Tensor | ShapedArray, rec as Tensor | ShapedArray, bias]
    : [kernel as Tensor | ShapedArray, rec as Tensor | ShapedArray];
}
