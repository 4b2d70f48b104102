import { releaseShared, sharedConstant, type Variable } from '@wgru/autograd';
import { type InitOptions, uniformParameter } from '../init.js';
import { Module, type Parameter } from '../module.js';
import { RecurrentLayer } from './layer.js';
import {
  checkCellStep,
  checkRecurrentOptions,
  type RecurrentCell,
  type RecurrentOptions,
  zeroTensor,
} from './recurrent.js';

export interface RNNCellOptions extends InitOptions {
  inputSize: number;
  hiddenSize: number;
  /** Whether to learn the bias b (default true). */
  bias?: boolean;
}

/**
 * The Elman recurrent cell with a tanh, in the row-vector convention of the GRU:
 *
 * ```
 * h_t = tanh(x_t W + h_{t-1} U + b)
 * ```
 *
 * Parameters W [inputSize, H], U [H, H], b [H] (one bias, not PyTorch's two), initialised
 * U(−1/√H, 1/√H) like PyTorch. The baseline the gated cells are measured against: its gradient
 * through time is a product of tanh' ⊙ U factors, which is why it vanishes or explodes.
 *
 * @example
 * ```ts
 * const cell = new RNNCell({ inputSize: 3, hiddenSize: 4, seed: 1 });
 * const h1 = cell.forward(variable([[1, 0, 0]]));          // [1, 4], from h0 = 0
 * const h2 = cell.forward(variable([[0, 1, 0]]), h1);
 * ```
 */
export class RNNCell extends Module implements RecurrentCell {
  readonly W: Parameter;
  readonly U: Parameter;
  readonly b: Parameter | null;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly stateCount = 1;

  constructor(opts: RNNCellOptions) {
    super();
    const o = checkRecurrentOptions('RNNCell', { ...opts, numLayers: 1 });
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    const H = o.hiddenSize;
    const bound = 1 / Math.sqrt(H);
    this.W = uniformParameter([o.inputSize, H], bound, opts, 0);
    this.U = uniformParameter([H, H], bound, opts, 1);
    this.b = o.bias ? uniformParameter([H], bound, opts, 2) : null;
  }

  /** x W + b for every timestep at once: [T, B, I] -> [T, B, H] (or [B, I] -> [B, H]). */
  project(x: Variable): Variable {
    const xW = x.matmul(this.W);
    return this.b ? xW.add(this.b) : xW;
  }

  /** One step from the projected input xp = x_t W + b, [B, H], and the state [h_{t-1}]. */
  step(xp: Variable, [hPrev]: Variable[]): Variable[] {
    // h_t = tanh(x_t W + h_{t-1} U + b)
    const h = xp.add((hPrev as Variable).matmul(this.U)).tanh();
    return [h];
  }

  /** One step: x [B, inputSize], h [B, H] (zeros when omitted) -> h' [B, H]. */
  forward(x: Variable, h?: Variable): Variable {
    const B = checkCellStep('RNNCell.forward', x, this.inputSize, this.hiddenSize, [
      { name: 'h', value: h, required: false },
    ]);
    // A zero state made here is freed with the ops that read it (or at once, with no graph).
    const h0 = h ?? sharedConstant(zeroTensor(x, B, this.hiddenSize));
    try {
      return this.step(this.project(x), [h0])[0] as Variable;
    } finally {
      if (h === undefined) releaseShared(h0);
    }
  }
}

export type RNNOptions = RecurrentOptions & InitOptions;

/**
 * A multi-layer tanh RNN over whole sequences, with the options and conventions of `GRU`:
 * numLayers, bidirectional, batchFirst, dropout between layers (training only), optional h0,
 * per-sequence lengths. Parameters l{k}.W, l{k}.U, l{k}.b and l{k}_reverse.*.
 *
 * @example
 * ```ts
 * const rnn = new RNN({ inputSize: 8, hiddenSize: 16, bidirectional: true, seed: 0 });
 * const x = variable(randn([5, 3, 8], { seed: 1 }));   // [T = 5, B = 3, 8]
 * const { output, hN } = rnn.forward(x);               // output [5, 3, 32], hN [2, 3, 16]
 * ```
 */
export class RNN extends RecurrentLayer<RNNCell> {
  constructor(opts: RNNOptions) {
    super('RNN', opts, [], (spec) => new RNNCell(spec));
  }

  /**
   * x: [T, B, inputSize] ([B, T, inputSize] with batchFirst); h0: [numLayers·D, B, H].
   * Returns output [T, B, D·H] (or [B, T, D·H]) and hN [numLayers·D, B, H].
   */
  forward(x: Variable, h0?: Variable, opts: { lengths?: Int32Array } = {}): { output: Variable; hN: Variable } {
    return this.forwardHidden(x, h0, opts);
  }
}
