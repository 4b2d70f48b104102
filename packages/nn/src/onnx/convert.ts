/**
 * ONNX recurrent weights (GRU, LSTM, RNN operators) converted to the seed's conventions, on plain
 * typed arrays. Every conversion is exact: it only moves values, flips signs and, where two ONNX
 * biases always appear as a sum, adds them.
 *
 * ONNX stores, per direction d, column-vector weights `W [D, G·H, I]` and `R [D, G·H, H]` (a step
 * computes `W x + R h`) and two biases `B [D, 2·G·H] = [Wb | Rb]`. The seed computes row vectors,
 * `x W + h U + b`, with `W [I, G·H]`, `U [H, G·H]`, `b [G·H]`: so the seed's W is ONNX's W
 * transposed (W_seed[k, g·H + j] = W_onnx[d, g·H + j, k]), and likewise U from R.
 *
 * GRU (ONNX gates z | r | h, as the seed's), with ONNX's update `H = (1 − z) ⊙ h̃ + z ⊙ H_prev`:
 * the seed's `h = (1 − z) ⊙ h_prev + z ⊙ h̃` uses z' = 1 − z. Since σ(−a) = 1 − σ(a), negating
 * every z row of W and R and both z biases turns ONNX's z into the seed's z' exactly.
 * - z, r: b = Wb + Rb (negated for z): inside σ the two biases only ever appear summed.
 * - h with linear_before_reset = 0: ONNX computes h̃ = tanh(x Wh + (r ⊙ H) Rh + Rbh + Wbh), so the
 *   seed's b_h = Wbh + Rbh (resetAfter: false, no c).
 * - h with linear_before_reset = 1: h̃ = tanh(x Wh + Wbh + r ⊙ (H Rh + Rbh)), so b_h = Wbh and
 *   c = Rbh (resetAfter: true).
 *
 * LSTM: ONNX's gate order is i | o | f | c; the seed's is i | f | g | o (PyTorch's), so gates are
 * permuted; b = Wb + Rb. ONNX peepholes `P [D, 3H]` in the order i | o | f become the reference's
 * `peepholes [3H]` in the order i | f | o.
 *
 * RNN: W [D, H, I], R [D, H, H], B [D, 2H] give W [I, H], U [H, H], b = Wb + Rb.
 *
 * Hidden and cell states (`initial_h`, `initial_c`) mean the same thing in both conventions.
 */
import type { OnnxNode } from './read.js';

/** The float arrays a conversion accepts; it returns arrays of the same kind. */
export type FloatArray = Float32Array | Float64Array;

/** One direction of a seed GRU: W [I, 3H], U [H, 3H], b [3H], and c [H] when resetAfter. */
export interface SeedGruWeights<A extends FloatArray> {
  W: A;
  U: A;
  b: A;
  c?: A;
  resetAfter: boolean;
}

/** One direction of a seed LSTM (gates i | f | g | o): W [I, 4H], U [H, 4H], b [4H], peepholes [3H] (i | f | o). */
export interface SeedLstmWeights<A extends FloatArray> {
  W: A;
  U: A;
  b: A;
  peepholes?: A;
}

/** One direction of a seed tanh RNN: W [I, H], U [H, H], b [H]. */
export interface SeedRnnWeights<A extends FloatArray> {
  W: A;
  U: A;
  b: A;
}

/** ONNX operator inputs W, R and the optional B (and LSTM's P), as read from a model. */
export interface OnnxRecurrentWeights<A extends FloatArray> {
  W: A;
  R: A;
  B?: A;
  hiddenSize: number;
}

function alloc<A extends FloatArray>(like: A, n: number): A {
  return (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as A;
}

/** Sizes implied by W and R for G gates, checked against B (and P). */
function sizes(op: string, w: OnnxRecurrentWeights<FloatArray>, G: number): { D: number; I: number } {
  const H = w.hiddenSize;
  if (!Number.isInteger(H) || H <= 0) throw new Error(`ONNX ${op}: hidden_size must be a positive integer, got ${H}`);
  const D = w.R.length / (G * H * H);
  if (D !== 1 && D !== 2)
    throw new Error(`ONNX ${op}: R has ${w.R.length} values; expected [D, ${G * H}, ${H}] with D = 1 or 2`);
  const I = w.W.length / (D * G * H);
  if (!Number.isInteger(I) || I <= 0)
    throw new Error(`ONNX ${op}: W has ${w.W.length} values; expected [${D}, ${G * H}, I]`);
  if (w.B && w.B.length !== D * 2 * G * H)
    throw new Error(`ONNX ${op}: B has ${w.B.length} values; expected [${D}, ${2 * G * H}]`);
  return { D, I };
}

/**
 * Transpose ONNX's [G·H, K] block of direction d into a seed [K, G·H] matrix, placing ONNX gate g
 * at seed gate `gateTo[g]` and multiplying it by `sign[g]`.
 */
function transposeGates<A extends FloatArray>(
  src: A,
  d: number,
  G: number,
  H: number,
  K: number,
  gateTo: number[],
  sign: number[],
): A {
  const out = alloc(src, K * G * H);
  const base = d * G * H * K;
  for (let g = 0; g < G; g++) {
    const to = gateTo[g];
    const s = sign[g];
    for (let j = 0; j < H; j++) {
      for (let k = 0; k < K; k++) out[k * G * H + to * H + j] = s * src[base + (g * H + j) * K + k];
    }
  }
  return out;
}

/** The ONNX bias of direction d for gate g, unit j: `part` 0 is Wb, 1 is Rb (zero without B). */
function bias(B: FloatArray | undefined, d: number, G: number, H: number, part: 0 | 1, g: number, j: number): number {
  return B ? B[d * 2 * G * H + part * G * H + g * H + j] : 0;
}

/**
 * ONNX GRU weights to the seed's, one entry per direction (forward first). With
 * `linearBeforeReset` (ONNX attribute linear_before_reset = 1) the result has resetAfter and c.
 */
export function gruFromOnnx<A extends FloatArray>(
  w: OnnxRecurrentWeights<A> & { linearBeforeReset?: boolean; recurrentBias?: boolean },
): SeedGruWeights<A>[] {
  const H = w.hiddenSize;
  const { D, I } = sizes('GRU', w, 3);
  const lbr = w.linearBeforeReset ?? false;
  const gateTo = [0, 1, 2];
  const sign = [-1, 1, 1]; // z → 1 − z
  const result: SeedGruWeights<A>[] = [];
  for (let d = 0; d < D; d++) {
    const b = alloc(w.W, 3 * H);
    // recurrentBias (with linear_before_reset): Wb and Rb kept apart, b = [−Wb_z, Wb_r, Wb_h], c = [−Rb_z, Rb_r, Rb_h].
    const split = lbr && w.recurrentBias === true;
    const c = lbr ? alloc(w.W, split ? 3 * H : H) : undefined;
    for (let j = 0; j < H; j++) {
      if (c && split) {
        for (let g = 0; g < 3; g++) {
          b[g * H + j] = sign[g] * bias(w.B, d, 3, H, 0, g, j);
          c[g * H + j] = sign[g] * bias(w.B, d, 3, H, 1, g, j);
        }
        continue;
      }
      b[j] = -(bias(w.B, d, 3, H, 0, 0, j) + bias(w.B, d, 3, H, 1, 0, j));
      b[H + j] = bias(w.B, d, 3, H, 0, 1, j) + bias(w.B, d, 3, H, 1, 1, j);
      if (c) {
        b[2 * H + j] = bias(w.B, d, 3, H, 0, 2, j);
        c[j] = bias(w.B, d, 3, H, 1, 2, j);
      } else {
        b[2 * H + j] = bias(w.B, d, 3, H, 0, 2, j) + bias(w.B, d, 3, H, 1, 2, j);
      }
    }
    const W = transposeGates(w.W, d, 3, H, I, gateTo, sign);
    const U = transposeGates(w.R, d, 3, H, H, gateTo, sign);
    result.push(c ? { W, U, b, c, resetAfter: true } : { W, U, b, resetAfter: false });
  }
  return result;
}

/** ONNX LSTM weights (gates i | o | f | c, optional peepholes P) to the seed's, one entry per direction. */
export function lstmFromOnnx<A extends FloatArray>(w: OnnxRecurrentWeights<A> & { P?: A }): SeedLstmWeights<A>[] {
  const H = w.hiddenSize;
  const { D, I } = sizes('LSTM', w, 4);
  if (w.P && w.P.length !== D * 3 * H)
    throw new Error(`ONNX LSTM: P has ${w.P.length} values; expected [${D}, ${3 * H}]`);
  const gateTo = [0, 3, 1, 2]; // ONNX i, o, f, c → seed i, f, g, o
  const sign = [1, 1, 1, 1];
  const peepholeFrom = [0, 2, 1]; // seed i, f, o ← ONNX P order i, o, f
  const result: SeedLstmWeights<A>[] = [];
  for (let d = 0; d < D; d++) {
    const b = alloc(w.W, 4 * H);
    for (let g = 0; g < 4; g++) {
      for (let j = 0; j < H; j++) b[gateTo[g] * H + j] = bias(w.B, d, 4, H, 0, g, j) + bias(w.B, d, 4, H, 1, g, j);
    }
    const entry: SeedLstmWeights<A> = {
      W: transposeGates(w.W, d, 4, H, I, gateTo, sign),
      U: transposeGates(w.R, d, 4, H, H, gateTo, sign),
      b,
    };
    if (w.P) {
      const p = alloc(w.P, 3 * H);
      for (let g = 0; g < 3; g++) {
        for (let j = 0; j < H; j++) p[g * H + j] = w.P[d * 3 * H + peepholeFrom[g] * H + j];
      }
      entry.peepholes = p;
    }
    result.push(entry);
  }
  return result;
}

/** ONNX RNN weights to the seed's tanh RNN, one entry per direction. */
export function rnnFromOnnx<A extends FloatArray>(w: OnnxRecurrentWeights<A>): SeedRnnWeights<A>[] {
  const H = w.hiddenSize;
  const { D, I } = sizes('RNN', w, 1);
  const result: SeedRnnWeights<A>[] = [];
  for (let d = 0; d < D; d++) {
    const b = alloc(w.W, H);
    for (let j = 0; j < H; j++) b[j] = bias(w.B, d, 1, H, 0, 0, j) + bias(w.B, d, 1, H, 1, 0, j);
    result.push({ W: transposeGates(w.W, d, 1, H, I, [0], [1]), U: transposeGates(w.R, d, 1, H, H, [0], [1]), b });
  }
  return result;
}

/** The attributes of an ONNX GRU, LSTM or RNN node that the seed's modules can honour. */
export interface OnnxRecurrentAttributes {
  op: 'GRU' | 'LSTM' | 'RNN';
  hiddenSize: number;
  direction: 'forward' | 'reverse' | 'bidirectional';
  numDirections: 1 | 2;
  /** 1: inputs and outputs are batch-major ([B, T, ...]); attribute `layout`, or `batch_major` in early opset-14 drafts. */
  layout: 0 | 1;
  /** GRU only: linear_before_reset = 1. */
  linearBeforeReset: boolean;
}

const DEFAULT_ACTIVATIONS: Record<string, string[]> = {
  GRU: ['sigmoid', 'tanh'],
  LSTM: ['sigmoid', 'tanh', 'tanh'],
  RNN: ['tanh'],
};

/**
 * Read and check the attributes of an ONNX recurrent node. Throws a clear Error for what the seed's
 * modules do not implement: activations other than the defaults, `clip`, LSTM `input_forget`.
 */
export function onnxRecurrentAttributes(node: OnnxNode): OnnxRecurrentAttributes {
  const op = node.opType;
  if (op !== 'GRU' && op !== 'LSTM' && op !== 'RNN')
    throw new Error(`ONNX: node '${node.name}' is a ${op}, not a GRU, LSTM or RNN`);
  const a = node.attributes;
  const unsupported = (what: string) => new Error(`ONNX ${op} '${node.name}': ${what} is not supported`);
  const hiddenSize = a.hidden_size;
  if (typeof hiddenSize !== 'number')
    throw new Error(`ONNX ${op} '${node.name}': the hidden_size attribute is required`);
  const direction = a.direction ?? 'forward';
  if (direction !== 'forward' && direction !== 'reverse' && direction !== 'bidirectional')
    throw unsupported(`direction '${String(direction)}'`);
  const numDirections = direction === 'bidirectional' ? 2 : 1;
  const layout = a.layout ?? a.batch_major ?? 0;
  if (layout !== 0 && layout !== 1) throw unsupported(`layout ${String(layout)}`);
  const lbr = a.linear_before_reset ?? 0;
  if (lbr !== 0 && lbr !== 1) throw unsupported(`linear_before_reset ${String(lbr)}`);
  if (a.clip !== undefined) throw unsupported('clip');
  if ((a.input_forget ?? 0) !== 0) throw unsupported('input_forget = 1');
  if (a.activation_alpha !== undefined || a.activation_beta !== undefined) throw unsupported('activation_alpha/beta');
  const acts = a.activations;
  if (acts !== undefined) {
    const defaults = DEFAULT_ACTIVATIONS[op] as string[];
    const expected = Array.from({ length: numDirections }, () => defaults).flat();
    const given = Array.isArray(acts) ? acts.map((s) => String(s).toLowerCase()) : [];
    if (given.join() !== expected.join())
      throw unsupported(`activations ${JSON.stringify(acts)} (only the defaults are)`);
  }
  return { op, hiddenSize, direction, numDirections, layout, linearBeforeReset: lbr === 1 };
}

/**
 * Swap the first two axes of a row-major array of shape [n0, n1, ...rest] (`inner` = product of
 * rest): turns ONNX's batch-major ([B, T, ...], layout = 1) data into time-major data and back.
 */
export function swapAxes01<A extends FloatArray | Int32Array>(data: A, n0: number, n1: number, inner: number): A {
  if (data.length !== n0 * n1 * inner)
    throw new Error(`swapAxes01: ${data.length} values do not make [${n0}, ${n1}, ${inner}]`);
  const out = data.slice() as A;
  for (let i = 0; i < n0; i++) {
    for (let j = 0; j < n1; j++)
      out.set(data.subarray((i * n1 + j) * inner, (i * n1 + j + 1) * inner), (j * n0 + i) * inner);
  }
  return out;
}
