import { internal, releaseShared, sharedConstant, type Variable } from '@wgru/autograd';
import { assign, empty, shapeString, type Tensor } from '@wgru/tensor';
import { type InitOptions, uniformParameter } from '../init.js';
import { Module, type Parameter, traceModule } from '../module.js';
import { RecurrentLayer } from './layer.js';
import {
  checkCellStep,
  checkRecurrentOptions,
  type RecurrentCell,
  type RecurrentOptions,
  zeroTensor,
} from './recurrent.js';

export interface LSTMCellOptions extends InitOptions {
  inputSize: number;
  hiddenSize: number;
  /** Whether to learn the bias b (default true). */
  bias?: boolean;
}

/** The state an LSTM carries from step to step: the hidden state h and the cell state c, each [B, H]. */
export interface LSTMState {
  h: Variable;
  c: Variable;
}

/**
 * The Long Short-Term Memory cell of Hochreiter & Schmidhuber (1997), with the forget gate of
 * Gers et al. (2000), in the same row-vector equations as the GRU:
 *
 * ```
 * i_t = σ(x_t W_i + h_{t-1} U_i + b_i)          input gate
 * f_t = σ(x_t W_f + h_{t-1} U_f + b_f)          forget gate
 * g_t = tanh(x_t W_g + h_{t-1} U_g + b_g)       candidate cell
 * o_t = σ(x_t W_o + h_{t-1} U_o + b_o)          output gate
 * c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
 * h_t = o_t ⊙ tanh(c_t)
 * ```
 *
 * Parameters, gates stacked i | f | g | o along the last axis (PyTorch's order): W [inputSize, 4H],
 * U [H, 4H], b [4H]. One bias, not PyTorch's two (b_ih + b_hh sum to it). Initialised
 * U(−1/√H, 1/√H) like PyTorch. The state is the pair (h, c); as a {@link RecurrentCell} it is
 * the list [h, c] (`stateCount` 2), h first because h is the output.
 *
 * @example
 * ```ts
 * const cell = new LSTMCell({ inputSize: 3, hiddenSize: 4, seed: 1 });
 * const s1 = cell.forward(variable([[1, 0, 0]]));          // { h: [1, 4], c: [1, 4] }, from zeros
 * const s2 = cell.forward(variable([[0, 1, 0]]), s1);
 * ```
 */
export class LSTMCell extends Module implements RecurrentCell {
  readonly W: Parameter;
  readonly U: Parameter;
  readonly b: Parameter | null;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly stateCount = 2;

  constructor(opts: LSTMCellOptions) {
    super();
    const o = checkRecurrentOptions('LSTMCell', { ...opts, numLayers: 1 });
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    const H = o.hiddenSize;
    const bound = 1 / Math.sqrt(H);
    this.W = uniformParameter([o.inputSize, 4 * H], bound, opts, 0);
    this.U = uniformParameter([H, 4 * H], bound, opts, 1);
    this.b = o.bias ? uniformParameter([4 * H], bound, opts, 2) : null;
  }

  /** x W + b for every timestep at once: [T, B, I] -> [T, B, 4H] (or [B, I] -> [B, 4H]). */
  project(x: Variable): Variable {
    const xW = x.matmul(this.W);
    return this.b ? xW.add(this.b) : xW;
  }

  /** One step from the projected input xp = x_t W + b, [B, 4H], and the state [h_{t-1}, c_{t-1}]. */
  step(xp: Variable, state: Variable[]): Variable[] {
    // The gates are private to the step: values no gradient rule reads are not kept.
    return internal(() => this.composedStep(xp, state));
  }

  private composedStep(xp: Variable, [hPrev, cPrev]: Variable[]): Variable[] {
    const H = this.hiddenSize;
    const B = xp.shape[0];
    // h_{t-1} U for all four gates, with one matmul: [B, 4H]
    const hU = (hPrev as Variable).matmul(this.U);
    // x_t W_g + h_{t-1} U_g + b_g, gate by gate: every op of the step is then [B, H], and the
    // engine fuses them all into one kernel (adding at [B, 4H] first would be a kernel of its own)
    const gate = (g: number) => xp.slice([0, g * H], [B, H]).add(hU.slice([0, g * H], [B, H]));
    // i_t = σ(x_t W_i + h_{t-1} U_i + b_i)
    const i = gate(0).sigmoid();
    // f_t = σ(x_t W_f + h_{t-1} U_f + b_f)
    const f = gate(1).sigmoid();
    // g_t = tanh(x_t W_g + h_{t-1} U_g + b_g)
    const g = gate(2).tanh();
    // o_t = σ(x_t W_o + h_{t-1} U_o + b_o)
    const o = gate(3).sigmoid();
    // c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    const c = f.mul(cPrev as Variable).add(i.mul(g));
    // h_t = o_t ⊙ tanh(c_t)
    const h = o.mul(c.tanh());
    return [h, c];
  }

  /** One step: x [B, inputSize], state { h, c } each [B, H] (zeros when omitted) -> the next { h, c }. */
  forward(x: Variable, state?: LSTMState): LSTMState {
    const given = state !== undefined;
    const B = checkCellStep('LSTMCell.forward', x, this.inputSize, this.hiddenSize, [
      { name: 'state.h', value: state?.h, required: given },
      { name: 'state.c', value: state?.c, required: given },
    ]);
    // Zero states made here are freed with the ops that read them (or at once, with no graph).
    const h0 = state?.h ?? sharedConstant(zeroTensor(x, B, this.hiddenSize));
    const c0 = state?.c ?? sharedConstant(zeroTensor(x, B, this.hiddenSize));
    try {
      const [h, c] = this.step(this.project(x), [h0, c0]) as [Variable, Variable];
      return { h, c };
    } finally {
      if (state === undefined) {
        releaseShared(h0);
        releaseShared(c0);
      }
    }
  }
}

export type LSTMOptions = RecurrentOptions & InitOptions;

/** Initial states of a whole LSTM, each [numLayers·D, B, H], layer-major (index k·D + d); zeros when absent. */
export interface LSTMInitialState {
  h0?: Variable;
  c0?: Variable;
}

/** What {@link LSTM.forward} returns. */
export interface LSTMResult {
  /** [T, B, D·H] (or [B, T, D·H] with batchFirst), the top layer's h at every step. */
  output: Variable;
  /** [numLayers·D, B, H], the last hidden state of every layer and direction. */
  hN: Variable;
  /** [numLayers·D, B, H], the last cell state of every layer and direction. */
  cN: Variable;
}

/** A zero Variable of `like`'s shape, backend and dtype. */
function zerosLike(like: Variable): Tensor {
  const z = empty(like.value.backend, like.shape, like.dtype);
  assign(z, 0);
  return z;
}

/**
 * A multi-layer LSTM over whole sequences, with the options and conventions of `GRU`:
 * numLayers, bidirectional, batchFirst, dropout between layers (training only), optional initial
 * states, per-sequence lengths (PyTorch's packed-sequence semantics). Parameters l{k}.W, l{k}.U,
 * l{k}.b and l{k}_reverse.* for the backward direction; see {@link LSTMCell} for the equations.
 *
 * @example
 * ```ts
 * const lstm = new LSTM({ inputSize: 8, hiddenSize: 16, numLayers: 2, seed: 0 });
 * const x = variable(randn([5, 3, 8], { seed: 1 }));    // [T = 5, B = 3, 8]
 * const { output, hN, cN } = lstm.forward(x);           // output [5, 3, 16]; hN, cN [2, 3, 16]
 * const next = lstm.forward(x, { h0: hN, c0: cN });     // carry the state on
 * ```
 */
export class LSTM extends RecurrentLayer<LSTMCell> {
  constructor(opts: LSTMOptions) {
    super('LSTM', opts, [], (spec) => new LSTMCell(spec));
  }

  /**
   * x: [T, B, inputSize] ([B, T, inputSize] with batchFirst); init.h0 and init.c0:
   * [numLayers·D, B, H] (either may be left out: zeros). Returns output [T, B, D·H]
   * (or [B, T, D·H]), hN and cN [numLayers·D, B, H].
   */
  forward(x: Variable, init: LSTMInitialState = {}, opts: { lengths?: Int32Array } = {}): LSTMResult {
    // While exportOnnx traces, one op (see traceModule): ONNX LSTM nodes.
    const i = init ?? {};
    return traceModule(
      this,
      [x, i.h0, i.c0, opts?.lengths],
      () => this.runLSTM(x, init, opts),
      (r) => [r.output, r.hN, r.cN],
    );
  }

  private runLSTM(x: Variable, init: LSTMInitialState, opts: { lengths?: Int32Array }): LSTMResult {
    if (init === null || typeof init !== 'object') throw new Error('LSTM.forward: init must be an object { h0?, c0? }');
    for (const k of Object.keys(init))
      if (k !== 'h0' && k !== 'c0') throw new Error(`LSTM.forward: unknown initial state '${k}' (expected h0 and c0)`);
    const { h0, c0 } = init;
    if (h0 && c0 && (h0.rank !== c0.rank || h0.shape.some((n, i) => n !== c0.shape[i]))) {
      throw new Error(
        `LSTM.forward: h0 ${shapeString(h0.shape)} and c0 ${shapeString(c0.shape)} must have the same shape`,
      );
    }
    // The driver takes all initial states or none: a missing one of the pair is zeros.
    const zeros = (like: Variable) => sharedConstant(zerosLike(like));
    const made: Variable[] = [];
    const fill = (v: Variable | undefined, like: Variable | undefined) => {
      if (v) return v;
      const z = zeros(like as Variable);
      made.push(z);
      return z;
    };
    const states = h0 || c0 ? [fill(h0, c0), fill(c0, h0)] : undefined;
    const r = this.run(x, states, opts);
    // A zero state made here is held by the ops that read it from now on.
    for (const z of made) releaseShared(z);
    // The final states are made when first read (before backward(), or until the next one: see runRecurrent).
    return {
      output: r.output,
      get hN(): Variable {
        return r.states[0] as Variable;
      },
      get cN(): Variable {
        return r.states[1] as Variable;
      },
    };
  }
}
