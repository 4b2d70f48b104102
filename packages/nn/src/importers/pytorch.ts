/**
 * PyTorch `nn.GRU` / `nn.GRUCell` weights to and from wgru's GRU / GRUCell, exactly.
 *
 * PyTorch stores, for layer k (and `_reverse` for the backward direction of a bidirectional GRU),
 * column-vector weights with the gates stacked in the order r | z | n along the rows:
 *
 * ```
 * weight_ih_l{k} [3H, I_k]   weight_hh_l{k} [3H, H]   bias_ih_l{k} [3H]   bias_hh_l{k} [3H]
 * r  = σ(W_ir x + b_ir + W_hr h + b_hr)
 * z  = σ(W_iz x + b_iz + W_hz h + b_hz)
 * n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))          the reset applies after the matmul
 * h' = (1 − z) ⊙ n + z ⊙ h
 * ```
 *
 * wgru (the seed's equations, row vectors, gates z | r | h along the columns, with resetAfter):
 *
 * ```
 * z  = σ(x W_z + h U_z + b_z)      r = σ(x W_r + h U_r + b_r)
 * h̃  = tanh(x W_h + b_h + r ⊙ (h U_h + c))
 * h' = (1 − z) ⊙ h + z ⊙ h̃
 * ```
 *
 * The two agree exactly under this mapping (I_k = inputSize for k = 0, D·H above):
 * - transpose: W = weight_ih^T [I, 3H], U = weight_hh^T [H, 3H] (PyTorch multiplies W x, wgru x W);
 * - reorder the gate blocks r, z, n → z, r, h;
 * - z ↔ 1 − z: PyTorch keeps the old state with weight z, wgru with weight 1 − z. Since
 *   σ(−a) = 1 − σ(a), negating every z block (of both weights and both biases) turns PyTorch's z
 *   into wgru's z exactly, with no rounding: negation only flips a sign bit;
 * - biases: inside σ the two z biases and the two r biases only appear summed, so
 *   b_z = −(b_iz + b_hz), b_r = b_ir + b_hr (one rounding each, the only one in the mapping);
 *   b_h = b_in and c = b_hn are copied, since b_hn sits inside the reset product.
 *
 * Exporting inverts this; the split of b_z and b_r into two biases is not determined, so the
 * exporter puts all of it in bias_ih and −0 (a zero) in the z and r blocks of bias_hh: then
 * importing the export gives back the same bits (x + (−0) = x for every x, while x + (+0) would turn
 * a −0 bias into +0). PyTorch state dicts with nonzero bias_hh z/r blocks import exactly, but come
 * back from a round trip with those blocks folded into bias_ih: the same function, other numbers.
 *
 * With `recurrentBias: true` (for a GRU made with recurrentBias: true) nothing is summed: both
 * biases are kept as they are, b = [−b_iz, b_ir, b_in] and c = [−b_hz, b_hr, b_hn] [3H], so that
 * training takes PyTorch's own steps (each bias its own Adam step) and the export gives back
 * bias_ih and bias_hh bit for bit.
 *
 * A GRU with resetAfter: false computes (r ⊙ h) U_h, which no PyTorch weights reproduce (PyTorch
 * always computes r ⊙ (h W_hn^T + b_hn)): exporting one throws. Import PyTorch weights into
 * `new GRU({ ..., resetAfter: true })`.
 *
 * Examples are on {@link fromPyTorchGRU} and {@link toPyTorchGRU}.
 */
import type { Tensor } from '@wgru/tensor';
import type { GRU, GRUCell } from '../rnn/gru.js';
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
  type GruLayout,
  type HostArray,
  putSeedCell,
  type SeedCell,
  type ShapedArray,
  type Take,
  type TakeOptional,
  takeSeedCell,
  type WeightDict,
} from './common.js';

/** Sizes of the PyTorch `nn.GRU` whose state dict is imported (its constructor arguments). */
export interface PyTorchGRUOptions {
  inputSize: number;
  hiddenSize: number;
  /** Default 1. */
  numLayers?: number;
  /** Default false. */
  bidirectional?: boolean;
  /** When given, checked: whether the state dict must have the biases (PyTorch's bias=True). */
  bias?: boolean;
  /** Keep bias_hh as wgru's c [3H], for a GRU made with recurrentBias: true (default false: summed into b). */
  recurrentBias?: boolean;
}

/** Sizes of the PyTorch `nn.GRUCell` whose state dict is imported. */
export interface PyTorchGRUCellOptions {
  inputSize: number;
  hiddenSize: number;
  /** When given, checked: whether the state dict must have the biases (PyTorch's bias=True). */
  bias?: boolean;
  /** Keep bias_hh as wgru's c [3H], for a GRUCell made with recurrentBias: true (default false). */
  recurrentBias?: boolean;
}

/** One PyTorch cell: weight_ih [3H, I], weight_hh [3H, H], bias_ih [3H], bias_hh [3H] (gates r | z | n). */
interface TorchCell<M> {
  wih: M;
  whh: M;
  bih?: M;
  bhh?: M;
}

/** PyTorch → wgru for one cell (see the file comment for each line's reason). */
function torchToSeed<M>(A: Blocks<M>, t: TorchCell<M>, H: number, recurrentBias: boolean): SeedCell<M> {
  const [Wir, Wiz, Win] = gates3(A, t.wih, 0, H);
  const [Whr, Whz, Whn] = gates3(A, t.whh, 0, H);
  // Rows r, z, n → z, r, h with z negated, then transposed: [3H, I] → [I, 3H].
  const W = A.transpose(A.cat([A.neg(Wiz), Wir, Win], 0));
  const U = A.transpose(A.cat([A.neg(Whz), Whr, Whn], 0));
  if (!t.bih || !t.bhh) return { W, U };
  const [bir, biz, bin] = gates3(A, t.bih, 0, H);
  const [bhr, bhz, bhn] = gates3(A, t.bhh, 0, H);
  // recurrentBias: b = [−b_iz, b_ir, b_in], c = [−b_hz, b_hr, b_hn], kept apart.
  if (recurrentBias) return { W, U, b: A.cat([A.neg(biz), bir, bin], 0), c: A.cat([A.neg(bhz), bhr, bhn], 0) };
  // b = [−(b_iz + b_hz), b_ir + b_hr, b_in], c = b_hn.
  const b = A.cat([A.neg(A.add(biz, bhz)), A.add(bir, bhr), bin], 0);
  return { W, U, b, c: bhn };
}

/** wgru → PyTorch for one cell: the inverse of torchToSeed, with bias_hh z and r blocks −0 (or c's with recurrentBias). */
function seedToTorch<M>(A: Blocks<M>, s: SeedCell<M>, H: number, recurrentBias: boolean): TorchCell<M> {
  const [Wz, Wr, Wh] = gates3(A, s.W, 1, H);
  const [Uz, Ur, Uh] = gates3(A, s.U, 1, H);
  // Columns z, r, h → r, z, n with z negated, then transposed: [I, 3H] → [3H, I].
  const wih = A.transpose(A.cat([Wr, A.neg(Wz), Wh], 1));
  const whh = A.transpose(A.cat([Ur, A.neg(Uz), Uh], 1));
  if (!s.b) return { wih, whh };
  const [bz, br, bh] = gates3(A, s.b, 0, H);
  const c = s.c as M;
  const bih = A.cat([br, A.neg(bz), bh], 0);
  if (recurrentBias) {
    const [cz, cr, ch] = gates3(A, c, 0, H);
    return { wih, whh, bih, bhh: A.cat([cr, A.neg(cz), ch], 0) };
  }
  const bhh = A.cat([A.negativeZeros([H]), A.negativeZeros([H]), c], 0);
  return { wih, whh, bih, bhh };
}

/** Reads a PyTorch cell; the two biases come together or not at all (bias=False). */
function takeTorchCell<M>(
  fn: string,
  take: Take<M>,
  takeOptional: TakeOptional<M>,
  suffix: string,
  I: number,
  H: number,
  bias: boolean | undefined,
): TorchCell<M> {
  const wih = take(`weight_ih${suffix}`, [3 * H, I], 'input weights, gates r | z | n');
  const whh = take(`weight_hh${suffix}`, [3 * H, H], 'recurrent weights, gates r | z | n');
  const bih = takeOptional(`bias_ih${suffix}`, [3 * H], 'input bias, gates r | z | n');
  const bhh = takeOptional(`bias_hh${suffix}`, [3 * H], 'recurrent bias, gates r | z | n');
  if (!bih !== !bhh)
    throw new Error(
      `${fn}: 'bias_ih${suffix}' and 'bias_hh${suffix}' must both be present (bias=True) or both absent (bias=False)`,
    );
  if (bias !== undefined && bias !== Boolean(bih))
    throw new Error(`${fn}: bias is ${bias} but 'bias_ih${suffix}' is ${bih ? 'present' : 'absent'}`);
  return bih && bhh ? { wih, whh, bih, bhh } : { wih, whh };
}

function putTorchCell<M>(out: Record<string, M>, suffix: string, t: TorchCell<M>): void {
  out[`weight_ih${suffix}`] = t.wih;
  out[`weight_hh${suffix}`] = t.whh;
  if (t.bih) out[`bias_ih${suffix}`] = t.bih;
  if (t.bhh) out[`bias_hh${suffix}`] = t.bhh;
}

/**
 * A PyTorch `nn.GRU` state dict (`weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`,
 * and `_reverse` keys when bidirectional) to a wgru state dict for
 * `new GRU({ inputSize, hiddenSize, numLayers, bidirectional, resetAfter: true })` (with
 * `bias: false` when the PyTorch GRU had no biases). The mapping is in the file comment.
 *
 * Values may be Tensors (the result is then fresh Tensors on their backend, in their dtype),
 * Float32Arrays or Float64Arrays (flat, row-major, in PyTorch's shapes) or `{ shape, data }`; host
 * arrays give host arrays of the same kind. Every key must be one PyTorch's GRU has: a missing,
 * unexpected or misshapen one throws an Error naming it.
 *
 * @example
 * ```ts
 * const w = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b)).map(() => Math.random() - 0.5) });
 * // torch.nn.GRU(3, 2, num_layers=1).state_dict() as { shape, data }; Tensors work too, as
 * // loadSafetensors(bytes) gives them for a file written by safetensors.torch.save_file:
 * const torchState = { weight_ih_l0: w(6, 3), weight_hh_l0: w(6, 2), bias_ih_l0: w(6), bias_hh_l0: w(6) };
 * const gru = new GRU({ inputSize: 3, hiddenSize: 2, resetAfter: true });   // PyTorch's reset placement
 * gru.loadStateDict(fromPyTorchGRU(torchState, { inputSize: 3, hiddenSize: 2 }));
 * ```
 */
export function fromPyTorchGRU(stateDict: Record<string, Tensor>, opts: PyTorchGRUOptions): Record<string, Tensor>;
export function fromPyTorchGRU<A extends HostArray>(
  stateDict: Record<string, A | ShapedArray<A>>,
  opts: PyTorchGRUOptions,
): Record<string, A>;
export function fromPyTorchGRU(stateDict: WeightDict, opts: PyTorchGRUOptions): Record<string, Tensor | HostArray>;
export function fromPyTorchGRU(stateDict: WeightDict, opts: PyTorchGRUOptions): Record<string, Tensor | HostArray> {
  const fn = 'fromPyTorchGRU';
  checkOptions(fn, opts, ['inputSize', 'hiddenSize', 'numLayers', 'bidirectional', 'bias', 'recurrentBias']);
  const recurrentBias = checkRecurrentBiasOption(fn, opts.recurrentBias, true);
  const I = checkSize(fn, 'inputSize', opts.inputSize);
  const H = checkSize(fn, 'hiddenSize', opts.hiddenSize);
  const L = checkSize(fn, 'numLayers', opts.numLayers ?? 1);
  const D = opts.bidirectional ? 2 : 1;
  const out = convertWeights(fn, stateDict, (A, take, takeOptional) => {
    const result: Record<string, ReturnType<typeof take>> = {};
    let bias: boolean | undefined;
    for (let k = 0; k < L; k++) {
      for (let d = 0; d < D; d++) {
        const t = takeTorchCell(
          fn,
          take,
          takeOptional,
          `_l${k}${d === 1 ? '_reverse' : ''}`,
          k === 0 ? I : D * H,
          H,
          opts.bias,
        );
        if (bias !== undefined && bias !== Boolean(t.bih))
          throw new Error(`${fn}: some layers have biases and some do not`);
        bias = Boolean(t.bih);
        putSeedCell(result, cellPrefix(k, d), torchToSeed(A, t, H, recurrentBias));
      }
    }
    return result;
  });
  return flatten(out);
}

/**
 * A PyTorch `nn.GRUCell` state dict (`weight_ih` [3H, I], `weight_hh` [3H, H], `bias_ih`,
 * `bias_hh` [3H]) to a wgru state dict (`W`, `U`, `b`, `c`) for
 * `new GRUCell({ inputSize, hiddenSize, resetAfter: true })`. Same mapping and value kinds as
 * {@link fromPyTorchGRU}.
 *
 * @example
 * ```ts
 * const w = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b)).map(() => Math.random() - 0.5) });
 * // torch.nn.GRUCell(3, 2).state_dict(), as { shape, data }:
 * const torchState = { weight_ih: w(6, 3), weight_hh: w(6, 2), bias_ih: w(6), bias_hh: w(6) };
 * const cell = new GRUCell({ inputSize: 3, hiddenSize: 2, resetAfter: true });
 * cell.loadStateDict(fromPyTorchGRUCell(torchState, { inputSize: 3, hiddenSize: 2 }));
 * ```
 */
export function fromPyTorchGRUCell(
  stateDict: Record<string, Tensor>,
  opts: PyTorchGRUCellOptions,
): Record<string, Tensor>;
export function fromPyTorchGRUCell<A extends HostArray>(
  stateDict: Record<string, A | ShapedArray<A>>,
  opts: PyTorchGRUCellOptions,
): Record<string, A>;
export function fromPyTorchGRUCell(
  stateDict: WeightDict,
  opts: PyTorchGRUCellOptions,
): Record<string, Tensor | HostArray>;
export function fromPyTorchGRUCell(
  stateDict: WeightDict,
  opts: PyTorchGRUCellOptions,
): Record<string, Tensor | HostArray> {
  const fn = 'fromPyTorchGRUCell';
  checkOptions(fn, opts, ['inputSize', 'hiddenSize', 'bias', 'recurrentBias']);
  const recurrentBias = checkRecurrentBiasOption(fn, opts.recurrentBias, true);
  const I = checkSize(fn, 'inputSize', opts.inputSize);
  const H = checkSize(fn, 'hiddenSize', opts.hiddenSize);
  const out = convertWeights(fn, stateDict, (A, take, takeOptional) => {
    const result: Record<string, ReturnType<typeof take>> = {};
    const t = takeTorchCell(fn, take, takeOptional, '', I, H, opts.bias);
    putSeedCell(result, '', torchToSeed(A, t, H, recurrentBias));
    return result;
  });
  return flatten(out);
}

function noResetBefore(fn: string, resetAfter: boolean): void {
  if (!resetAfter) {
    throw new Error(
      `${fn}: this GRU has resetAfter: false, computing (r ⊙ h) U_h; PyTorch always computes r ⊙ (h W_hn^T + b_hn), ` +
        'and no PyTorch weights reproduce the former exactly. Train with resetAfter: true to export to PyTorch, or export to ONNX (linear_before_reset = 0) or Keras (reset_after = False).',
    );
  }
}

/**
 * A wgru GRU (made with resetAfter: true) to a PyTorch `nn.GRU` state dict: the inverse of
 * {@link fromPyTorchGRU}. Given the module, the result is fresh Tensors on its backend (read them
 * with `await t.data()`); given a wgru state dict of host arrays and its layout, `{ shape, data }`
 * arrays in PyTorch's shapes. bias_hh holds −0 in its r and z blocks and c in its n block; bias_ih
 * holds [b_r, −b_z, b_h]. Throws for a GRU with resetAfter: false (see the file comment).
 *
 * @example
 * ```ts
 * const gru = new GRU({ inputSize: 3, hiddenSize: 2, numLayers: 2, resetAfter: true, seed: 0 });
 * const torchState = toPyTorchGRU(gru);   // weight_ih_l0 [6, 3], weight_hh_l0 [6, 2], bias_ih_l0, bias_hh_l0 [6], ..._l1
 * const bytes = await saveSafetensors(torchState);
 * // Python: gru.load_state_dict(safetensors.torch.load(bytes)) for torch.nn.GRU(3, 2, num_layers=2)
 * ```
 */
export function toPyTorchGRU(source: GRU): Record<string, Tensor>;
export function toPyTorchGRU(source: Record<string, Tensor>, layout: GruLayout): Record<string, Tensor>;
export function toPyTorchGRU<A extends HostArray>(
  source: Record<string, A | ShapedArray<A>>,
  layout: GruLayout,
): Record<string, ShapedArray<A>>;
export function toPyTorchGRU(source: GRU | WeightDict, layout?: GruLayout): Record<string, Tensor | ShapedArray>;
export function toPyTorchGRU(source: GRU | WeightDict, layout?: GruLayout): Record<string, Tensor | ShapedArray> {
  const fn = 'toPyTorchGRU';
  const s = exportSource(fn, source, layout, false, 'GRU');
  noResetBefore(fn, s.resetAfter);
  const [I, H, D] = [s.inputSize, s.hiddenSize, s.bidirectional ? 2 : 1];
  return convertWeights(fn, s.dict, (A, take, takeOptional) => {
    const result: Record<string, ReturnType<typeof take>> = {};
    for (let k = 0; k < s.numLayers; k++) {
      for (let d = 0; d < D; d++) {
        const cell = takeSeedCell(take, takeOptional, cellPrefix(k, d), k === 0 ? I : D * H, H, true, s.recurrentBias);
        putTorchCell(result, `_l${k}${d === 1 ? '_reverse' : ''}`, seedToTorch(A, cell, H, s.recurrentBias));
      }
    }
    return result;
  });
}

/**
 * A wgru GRUCell (resetAfter: true) to a PyTorch `nn.GRUCell` state dict (`weight_ih`,
 * `weight_hh`, `bias_ih`, `bias_hh`): the inverse of {@link fromPyTorchGRUCell}, as
 * {@link toPyTorchGRU}. Given a state dict (`W`, `U`, `b`, `c`), the layout is required.
 *
 * @example
 * ```ts
 * const torchState = toPyTorchGRUCell(new GRUCell({ inputSize: 3, hiddenSize: 2, resetAfter: true, seed: 0 }));
 * Object.keys(torchState);   // ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']
 * ```
 */
export function toPyTorchGRUCell(source: GRUCell): Record<string, Tensor>;
export function toPyTorchGRUCell(source: Record<string, Tensor>, layout: GruLayout): Record<string, Tensor>;
export function toPyTorchGRUCell<A extends HostArray>(
  source: Record<string, A | ShapedArray<A>>,
  layout: GruLayout,
): Record<string, ShapedArray<A>>;
export function toPyTorchGRUCell(
  source: GRUCell | WeightDict,
  layout?: GruLayout,
): Record<string, Tensor | ShapedArray>;
export function toPyTorchGRUCell(
  source: GRUCell | WeightDict,
  layout?: GruLayout,
): Record<string, Tensor | ShapedArray> {
  const fn = 'toPyTorchGRUCell';
  const s = exportSource(fn, source, layout, true, 'GRUCell');
  noResetBefore(fn, s.resetAfter);
  return convertWeights(fn, s.dict, (A, take, takeOptional) => {
    const result: Record<string, ReturnType<typeof take>> = {};
    const cell = takeSeedCell(take, takeOptional, '', s.inputSize, s.hiddenSize, true, s.recurrentBias);
    putTorchCell(result, '', seedToTorch(A, cell, s.hiddenSize, s.recurrentBias));
    return result;
  });
}
