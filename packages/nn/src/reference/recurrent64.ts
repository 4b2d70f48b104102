/**
 * Float64 reference implementations of the GRU, the LSTM and the tanh RNN, written as plain loops
 * over Float64Array with no tensor library: a test oracle for the real modules.
 *
 * Conventions (the seed's, see API.md), for every cell:
 * - row vectors: a step computes `x_t W + h_{t-1} U + b`, with `x_t` of length I and `h` of length H;
 * - matrices are row-major: `W` is [I, G·H], `U` is [H, G·H], `b` is [G·H], gates stacked along the
 *   last axis (G = 3 for the GRU, 4 for the LSTM, 1 for the RNN);
 * - sequences are time-major: `x` is [T, B, I], `output` [T, B, H], `hN` (and `cN`) [B, H];
 * - `h0` (and `c0`) default to zeros, `b` to zeros;
 * - `lengths` (one per sequence, 0..T) follow PyTorch's packed sequences: sequence k runs only over
 *   its first `lengths[k]` steps, its outputs past that are zero, and its final state is the state
 *   after its own last step (`h0` when the length is 0). With `reverse`, each sequence is read
 *   backwards from its own last step `lengths[k] − 1` down to 0.
 */

/** Options shared by the three cells. */
interface Recurrent64Options {
  /** Inputs, time-major [T, B, I]. */
  x: Float64Array;
  T: number;
  B: number;
  I: number;
  H: number;
  /** Initial hidden state [B, H]; zeros when absent. */
  h0?: Float64Array;
  /** Valid steps of each sequence (B of them, each in 0..T); all T when absent. */
  lengths?: ArrayLike<number>;
  /** Run from the end of each sequence to its start. */
  reverse?: boolean;
}

/**
 * The GRU, gates z | r | h:
 * ```
 * z = σ(x W_z + h U_z + b_z)      r = σ(x W_r + h U_r + b_r)
 * h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)          resetAfter false (the default)
 * h̃ = tanh(x W_h + b_h + r ⊙ (h U_h + c))      resetAfter true; c [H], zeros when absent
 * h' = (1 − z) ⊙ h + z ⊙ h̃
 * ```
 * With resetAfter, c may also be [3H] = c_z | c_r | c_h (recurrentBias): c_z and c_r are added
 * inside z's and r's σ, and c_h is the c above.
 */
export interface Gru64Options extends Recurrent64Options {
  /** [I, 3H] */ W: Float64Array;
  /** [H, 3H] */ U: Float64Array;
  /** [3H] */ b?: Float64Array;
  /** [H], the hidden bias inside the reset product, or [3H] for every gate; only with resetAfter. */
  c?: Float64Array;
  resetAfter?: boolean;
}

/**
 * The LSTM, gates i | f | g | o (PyTorch's order), with optional peepholes p = p_i | p_f | p_o
 * (each [H]) as in ONNX: the input and forget gates look at the previous cell state, the output
 * gate at the new one.
 * ```
 * i = σ(x W_i + h U_i + b_i + p_i ⊙ c)     f = σ(x W_f + h U_f + b_f + p_f ⊙ c)
 * g = tanh(x W_g + h U_g + b_g)
 * c' = f ⊙ c + i ⊙ g
 * o = σ(x W_o + h U_o + b_o + p_o ⊙ c')    h' = o ⊙ tanh(c')
 * ```
 */
export interface Lstm64Options extends Recurrent64Options {
  /** [I, 4H] */ W: Float64Array;
  /** [H, 4H] */ U: Float64Array;
  /** [4H] */ b?: Float64Array;
  /** Initial cell state [B, H]; zeros when absent. */
  c0?: Float64Array;
  /** Peephole weights [3H] in the order i | f | o. */
  peepholes?: Float64Array;
}

/** The Elman RNN: h' = tanh(x W + h U + b), with W [I, H], U [H, H], b [H]. */
export interface Rnn64Options extends Recurrent64Options {
  /** [I, H] */ W: Float64Array;
  /** [H, H] */ U: Float64Array;
  /** [H] */ b?: Float64Array;
}

export interface Recurrent64Result {
  /** [T, B, H], zero past each sequence's length. */
  output: Float64Array;
  /** [B, H], the state after each sequence's last step. */
  hN: Float64Array;
}

/** The logistic function, written so that neither branch overflows (σ(±1000) is 1 and 0). */
export function sigmoid64(a: number): number {
  if (a >= 0) return 1 / (1 + Math.exp(-a));
  const e = Math.exp(a);
  return e / (1 + e);
}

function checkSize(name: string, a: Float64Array | undefined, n: number, what: string): void {
  if (a !== undefined && a.length !== n)
    throw new Error(`reference: ${name} has ${a.length} values, expected ${n} (${what})`);
}

/** Validate the shared options and return the lengths, one per sequence. */
function checkCommon(o: Recurrent64Options): number[] {
  const { T, B, I, H } = o;
  for (const [k, v] of Object.entries({ T, B, I, H })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`reference: ${k} must be a non-negative integer, got ${v}`);
  }
  checkSize('x', o.x, T * B * I, '[T, B, I]');
  checkSize('h0', o.h0, B * H, '[B, H]');
  if (o.lengths === undefined) return new Array<number>(B).fill(T);
  const lengths = Array.from(o.lengths);
  if (lengths.length !== B) throw new Error(`reference: lengths has ${lengths.length} entries, expected B = ${B}`);
  for (const len of lengths) {
    if (!Number.isInteger(len) || len < 0 || len > T)
      throw new Error(`reference: each length must be an integer in [0, ${T}], got ${len}`);
  }
  return lengths;
}

/** out[j] += Σ_k v[vOff + k] · M[k, off + j] for j < n: a row vector times columns off..off+n of M ([rows, cols]). */
function affine(
  out: Float64Array,
  v: Float64Array,
  vOff: number,
  rows: number,
  M: Float64Array,
  cols: number,
  off: number,
  n: number,
): void {
  for (let k = 0; k < rows; k++) {
    const vk = v[vOff + k];
    const row = k * cols + off;
    for (let j = 0; j < n; j++) out[j] = out[j] + vk * M[row + j];
  }
}

/**
 * One step of a cell for one sequence: reads `h` (and `c`) and the input row at `x[xOff..]`,
 * updates them in place.
 */
type Step = (x: Float64Array, xOff: number, h: Float64Array, c: Float64Array) => void;

/**
 * Run `step` over every sequence of the batch, honouring lengths and direction, and collect the
 * outputs and final states.
 */
function scan(
  o: Recurrent64Options,
  c0: Float64Array | undefined,
  step: Step,
): Recurrent64Result & { cN: Float64Array } {
  const lengths = checkCommon(o);
  const { T, B, I, H } = o;
  checkSize('c0', c0, B * H, '[B, H]');
  const output = new Float64Array(T * B * H);
  const hN = new Float64Array(B * H);
  const cN = new Float64Array(B * H);
  for (let s = 0; s < B; s++) {
    const h = o.h0 ? o.h0.slice(s * H, (s + 1) * H) : new Float64Array(H);
    const c = c0 ? c0.slice(s * H, (s + 1) * H) : new Float64Array(H);
    const len = lengths[s];
    for (let k = 0; k < len; k++) {
      const t = o.reverse ? len - 1 - k : k;
      step(o.x, (t * B + s) * I, h, c);
      output.set(h, (t * B + s) * H);
    }
    hN.set(h, s * H);
    cN.set(c, s * H);
  }
  return { output, hN, cN };
}

/** The GRU over a batch of sequences (see Gru64Options for the equations). */
export function gru64(o: Gru64Options): Recurrent64Result {
  const { I, H } = o;
  const G = 3 * H;
  checkSize('W', o.W, I * G, '[I, 3H]');
  checkSize('U', o.U, H * G, '[H, 3H]');
  checkSize('b', o.b, G, '[3H]');
  const perGate = o.c !== undefined && o.c.length === G;
  if (!perGate) checkSize('c', o.c, H, '[H] or [3H]');
  const cz = (j: number) => (perGate ? (o.c as Float64Array)[j] : 0);
  const cr = (j: number) => (perGate ? (o.c as Float64Array)[H + j] : 0);
  const ch = (j: number) => (o.c ? o.c[(perGate ? 2 * H : 0) + j] : 0);
  if (o.c && !o.resetAfter) throw new Error('reference: c is only used with resetAfter: true');
  const xg = new Float64Array(G); // x W + b, all three gates
  const hg = new Float64Array(G); // h U, all three gates
  const rh = new Float64Array(H);
  const cand = new Float64Array(H);
  const { output, hN } = scan(o, undefined, (x, xOff, h) => {
    xg.fill(0);
    if (o.b) xg.set(o.b);
    affine(xg, x, xOff, I, o.W, G, 0, G);
    hg.fill(0);
    affine(hg, h, 0, H, o.U, G, 0, 2 * H); // z and r columns
    if (o.resetAfter) {
      affine(hg.subarray(2 * H), h, 0, H, o.U, G, 2 * H, H); // h U_h
    }
    const z = (j: number) => sigmoid64(xg[j] + hg[j] + cz(j));
    const r = (j: number) => sigmoid64(xg[H + j] + hg[H + j] + cr(j));
    if (o.resetAfter) {
      for (let j = 0; j < H; j++) {
        const inner = hg[2 * H + j] + ch(j);
        cand[j] = Math.tanh(xg[2 * H + j] + r(j) * inner);
      }
    } else {
      for (let j = 0; j < H; j++) rh[j] = r(j) * h[j];
      cand.fill(0);
      affine(cand, rh, 0, H, o.U, G, 2 * H, H); // (r ⊙ h) U_h
      for (let j = 0; j < H; j++) cand[j] = Math.tanh(xg[2 * H + j] + cand[j]);
    }
    for (let j = 0; j < H; j++) {
      const zj = z(j);
      h[j] = (1 - zj) * h[j] + zj * cand[j];
    }
  });
  return { output, hN };
}

/** The LSTM over a batch of sequences (see Lstm64Options for the equations). */
export function lstm64(o: Lstm64Options): Recurrent64Result & { cN: Float64Array } {
  const { I, H } = o;
  const G = 4 * H;
  checkSize('W', o.W, I * G, '[I, 4H]');
  checkSize('U', o.U, H * G, '[H, 4H]');
  checkSize('b', o.b, G, '[4H]');
  checkSize('peepholes', o.peepholes, 3 * H, '[3H], i | f | o');
  const p = o.peepholes;
  const a = new Float64Array(G);
  return scan(o, o.c0, (x, xOff, h, c) => {
    a.fill(0);
    if (o.b) a.set(o.b);
    affine(a, x, xOff, I, o.W, G, 0, G);
    affine(a, h, 0, H, o.U, G, 0, G);
    for (let j = 0; j < H; j++) {
      const cPrev = c[j];
      const i = sigmoid64(a[j] + (p ? p[j] * cPrev : 0));
      const f = sigmoid64(a[H + j] + (p ? p[H + j] * cPrev : 0));
      const g = Math.tanh(a[2 * H + j]);
      const cNew = f * cPrev + i * g;
      const out = sigmoid64(a[3 * H + j] + (p ? p[2 * H + j] * cNew : 0));
      c[j] = cNew;
      h[j] = out * Math.tanh(cNew);
    }
  });
}

/** The tanh RNN over a batch of sequences (see Rnn64Options). */
export function rnn64(o: Rnn64Options): Recurrent64Result {
  const { I, H } = o;
  checkSize('W', o.W, I * H, '[I, H]');
  checkSize('U', o.U, H * H, '[H, H]');
  checkSize('b', o.b, H, '[H]');
  const a = new Float64Array(H);
  const { output, hN } = scan(o, undefined, (x, xOff, h) => {
    a.fill(0);
    if (o.b) a.set(o.b);
    affine(a, x, xOff, I, o.W, H, 0, H);
    affine(a, h, 0, H, o.U, H, 0, H);
    for (let j = 0; j < H; j++) h[j] = Math.tanh(a[j]);
  });
  return { output, hN };
}
