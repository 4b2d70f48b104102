/**
 * wgru's GRU, LSTM and RNN as ONNX's GRU, LSTM and RNN operators: one node per layer (an ONNX
 * node is one layer, both directions), chained.
 *
 * Layer k's node reads X [T, B, I] (the sequence, time-major: a batchFirst input is transposed
 * first), its weights as initializers, `sequence_lens` when the call had lengths, and
 * `initial_h` (and `initial_c`) sliced from h0 (c0) at rows k·D .. k·D + D. Its output Y
 * [T, D, B, H] becomes wgru's [T, B, D·H] by a Transpose to [T, B, D, H] and a Reshape, and the
 * layers' Y_h [D, B, H] are concatenated into hN [numLayers·D, B, H] (index k·D + d, as wgru's).
 *
 * Weights (see ./convert.ts for the conventions): the GRU's come from `toOnnxGRUWeights`, whose
 * conversion `fromOnnxGRU` inverts exactly (z rows negated; B = [Wb | Rb] with Rb = −0 except the
 * h gate's c under linear_before_reset, or Rb = [−c_z, c_r, c_h] with recurrentBias). The LSTM's gates i | f | g | o go to ONNX's i | o | f | c,
 * and its one bias to Wb with Rb = −0; the RNN's W, U, b transpose likewise.
 */
import type { TracedOp, Variable } from '@wgru/autograd';
import { toOnnxGRUWeights } from '../importers/onnx.js';
import { GRU } from '../rnn/gru.js';
import type { RecurrentLayer } from '../rnn/layer.js';
import { LSTM, type LSTMCell } from '../rnn/lstm.js';
import type { RNNCell } from '../rnn/rnn.js';
import type { RecurrentCell } from '../rnn/recurrent.js';
import type { OnnxGraph, Value } from './graph.js';
import { reshapeTo } from './ops.js';
import { type Dim, fixed, sizeOf } from './shapes.js';
import { after, all, type Maybe, settled, valuesOf } from './values.js';

type Weights = { W: Float32Array; R: Float32Array; B?: Float32Array };

/** Seed [K, G·H] (gates along columns) to ONNX [G·H, K] with ONNX gate g taken from seed gate gateFrom[g]. */
function toOnnxGates(src: Float32Array, K: number, G: number, H: number, gateFrom: readonly number[]): Float32Array {
  const out = new Float32Array(G * H * K);
  for (let g = 0; g < G; g++) {
    const from = gateFrom[g];
    for (let j = 0; j < H; j++) {
      for (let k = 0; k < K; k++) out[(g * H + j) * K + k] = src[k * G * H + from * H + j];
    }
  }
  return out;
}

/** One layer of an LSTM (gateFrom [0, 3, 1, 2]: ONNX i o f c ← seed i f g o) or an RNN ([0]). */
function cellWeights(cells: Array<LSTMCell | RNNCell>, G: number, gateFrom: readonly number[]): Maybe<Weights> {
  const H = (cells[0] as RecurrentCell).hiddenSize;
  // W, U and b (or null) of each cell, in that order
  const reads = cells.flatMap((c) => [
    valuesOf(c.W.value, 'float32'),
    valuesOf(c.U.value, 'float32'),
    c.b ? valuesOf(c.b.value, 'float32') : null,
  ]);
  const cat = (xs: Float32Array[]) => {
    const out = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of xs) {
      out.set(x, at);
      at += x.length;
    }
    return out;
  };
  return after(all(reads), (values) => {
    const parts = cells.map((c, i) => {
      const [W, U, b] = values.slice(3 * i, 3 * i + 3) as [Float32Array, Float32Array, Float32Array | null];
      const B = b ? new Float32Array(2 * G * H).fill(-0) : null; // Rb = −0: Wb + Rb is Wb exactly
      if (B && b) for (let g = 0; g < G; g++) B.set(b.subarray(gateFrom[g]! * H, (gateFrom[g]! + 1) * H), g * H);
      return { W: toOnnxGates(W, c.inputSize, G, H, gateFrom), R: toOnnxGates(U, H, G, H, gateFrom), B };
    });
    const w: Weights = { W: cat(parts.map((p) => p.W)), R: cat(parts.map((p) => p.R)) };
    if (parts.every((p) => p.B)) w.B = cat(parts.map((p) => p.B as Float32Array));
    return w;
  });
}

/** The GRU's layer k, through toOnnxGRUWeights (the exact inverse of fromOnnxGRU). */
function gruWeights(m: GRU, k: number): Maybe<Weights> {
  const w = toOnnxGRUWeights(m, { layer: k });
  const dispose = () => {
    for (const t of [w.W, w.R, w.B]) t?.dispose();
  };
  let reads: Maybe<Float32Array[]>;
  try {
    reads = all([w.W, w.R, ...(w.B ? [w.B] : [])].map((t) => valuesOf(t, 'float32')));
  } catch (e) {
    dispose();
    throw e;
  }
  const weights = after(reads, ([W, R, B]): Weights => (B ? { W: W!, R: R!, B } : { W: W!, R: R! }));
  return settled(weights, dispose);
}

/** Exports one traced call of a GRU, LSTM or RNN (inputs: x, h0, [c0,] lengths). */
export function exportRecurrent(g: OnnxGraph, m: RecurrentLayer<RecurrentCell>, o: TracedOp): void {
  const op = m instanceof GRU ? 'GRU' : m instanceof LSTM ? 'LSTM' : 'RNN';
  if (m.training && m.dropout > 0 && m.numLayers > 1)
    throw new Error(
      `exportOnnx: ${op} with dropout ${m.dropout} is in training mode, where it drops between layers; call model.eval() before exporting`,
    );
  const [L, D, H] = [m.numLayers, m.bidirectional ? 2 : 1, m.hiddenSize];
  const G = op === 'GRU' ? 3 : op === 'LSTM' ? 4 : 1;
  const stateCount = op === 'LSTM' ? 2 : 1;
  const x = g.of(o.inputs[0] as Variable, `the input of ${op}`);
  const init = [1, 2].slice(0, stateCount).map((k) => {
    const s = o.inputs[k] as Variable | undefined;
    return s ? g.of(s, `the initial state of ${op}`) : null;
  });
  const lengths = o.inputs[stateCount + 1] as Int32Array | undefined;
  const seqLens = lengths ? g.host(lengths, `${op} lengths`).name : '';

  let X: Value = m.batchFirst
    ? g.value('Transpose', [x.name], 'float32', [x.dims[1]!, x.dims[0]!, x.dims[2]!], { perm: [1, 0, 2] })
    : x;
  const [T, B] = [X.dims[0] as Dim, X.dims[1] as Dim];
  const finals: string[][] = Array.from({ length: stateCount }, () => []);
  const base = g.once(m, 'name', () => g.fresh(op.toLowerCase()));
  for (let k = 0; k < L; k++) {
    const I = k === 0 ? m.inputSize : D * H;
    // The layer's weights, converted once when the first of W, R, B is written.
    let loaded: Maybe<Weights> | null = null;
    const load = (): Maybe<Weights> => {
      loaded ??=
        m instanceof GRU
          ? gruWeights(m, k)
          : cellWeights(
              Array.from({ length: D }, (_, d) => m.cell(k, d) as LSTMCell | RNNCell),
              G,
              op === 'LSTM' ? [0, 3, 1, 2] : [0],
            );
      return loaded;
    };
    const hasBias = (m.cell(k, 0) as RecurrentCell & { b: unknown }).b !== null;
    const [W, R, Bn] = g.once(m, `l${k}`, () => [
      g.initializer(`${base}.l${k}.W`, [D, G * H, I], () => after(load(), (w) => w.W)),
      g.initializer(`${base}.l${k}.R`, [D, G * H, H], () => after(load(), (w) => w.R)),
      hasBias ? g.initializer(`${base}.l${k}.B`, [D, 2 * G * H], () => after(load(), (w) => w.B as Float32Array)) : '',
    ]);
    const initial = init.map((s) =>
      s
        ? (g.node(
            'Slice',
            [s.name, g.int64('starts', [k * D]), g.int64('ends', [(k + 1) * D]), g.int64('axes', [0])],
            ['initial'],
          )[0] as string)
        : '',
    );
    const inputs = [X.name, W, R, Bn, seqLens, ...initial];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    const attributes: Record<string, number | string> = {
      hidden_size: H,
      direction: D === 2 ? 'bidirectional' : 'forward',
    };
    if (m instanceof GRU) attributes.linear_before_reset = m.resetAfter ? 1 : 0;
    const outs = g.node(op, inputs, ['Y', 'Y_h', 'Y_c'].slice(0, 1 + stateCount), attributes);
    for (const [s, name] of outs.slice(1).entries()) finals[s]?.push(name);
    const Y: Value = { name: outs[0] as string, dtype: 'float32', dims: [T, fixed(D), B, fixed(H)] };
    const Yt = g.value('Transpose', [Y.name], 'float32', [T, B, fixed(D), fixed(H)], { perm: [0, 2, 1, 3] });
    X = reshapeTo(g, Yt, [sizeOf(T, g.symbols), sizeOf(B, g.symbols), D * H], `exportOnnx: ${op} output`);
  }
  const output = m.batchFirst ? g.value('Transpose', [X.name], 'float32', [B, T, X.dims[2]!], { perm: [1, 0, 2] }) : X;
  g.set(o.outputs[0] as Variable, output);
  const stateDims = [fixed(L * D), B, fixed(H)];
  finals.forEach((names, s) => {
    const v =
      names.length === 1
        ? { name: names[0] as string, dtype: 'float32' as const, dims: stateDims }
        : g.value('Concat', names, 'float32', stateDims, { axis: 0 });
    g.set(o.outputs[1 + s] as Variable, v);
  });
}
