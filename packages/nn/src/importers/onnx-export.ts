/**
 * wgru GRU weights to ONNX `GRU` operator weights W, R, B, exactly: the inverse of
 * {@link fromOnnxGRU}'s mapping (described in ./onnx.ts).
 */
import type { Tensor } from '@wgru/tensor';
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
function seedToOnnx<M>(
  A: Blocks<M>,
  s: SeedCell<M>,
  H: number,
  lbr: boolean,
  recurrentBias: boolean,
): { W: M; R: M; Wb?: M; Rb?: M } {
  const [Wz, Wr, Wh] = gates3(A, s.W, 1, H);
  const [Uz, Ur, Uh] = gates3(A, s.U, 1, H);
  const W = A.transpose(A.cat([A.neg(Wz), Wr, Wh], 1));
  const R = A.transpose(A.cat([A.neg(Uz), Ur, Uh], 1));
  if (!s.b) return { W, R };
  const [bz, br, bh] = gates3(A, s.b, 0, H);
  const Wb = A.cat([A.neg(bz), br, bh], 0);
  if (recurrentBias) {
    // c [3H] is Rb exactly, with its z block negated like every z block.
    const [cz, cr, ch] = gates3(A, s.c as M, 0, H);
    return { W, R, Wb, Rb: A.cat([A.neg(cz), cr, ch], 0) };
  }
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
      seedToOnnx(
        A,
        takeSeedCell(take, takeOptional, p, I, H, s.resetAfter, s.recurrentBias),
        H,
        s.resetAfter,
        s.recurrentBias,
      ),
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
