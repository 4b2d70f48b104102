import { internal, isGradEnabled, releaseShared, sharedConstant, sub, type Variable } from '@wgru/autograd';
import { expectVariable } from '../checks.js';
import { type InitOptions, uniformParameter } from '../init.js';
import { Module, type Parameter } from '../module.js';
import { fusedForward, GruSlices, inferenceStep } from './gru-fast.js';
import { RecurrentLayer } from './layer.js';
import {
  checkCellStep,
  checkRecurrentOptions,
  type RecurrentCell,
  type RecurrentOptions,
  zeroTensor,
} from './recurrent.js';

export interface GRUCellOptions extends InitOptions {
  inputSize: number;
  hiddenSize: number;
  /** Whether to learn biases b (and c) (default true). */
  bias?: boolean;
  /** Apply the reset gate after the hidden matmul (cuDNN / PyTorch / Keras reset_after=True). */
  resetAfter?: boolean;
  /**
   * With resetAfter: a recurrent bias for every gate, c [3H] = c_z | c_r | c_h, beside b, as PyTorch
   * and Keras (reset_after=True) keep them (default false: c [H] is c_h alone, since c_z and c_r
   * would only add to b_z and b_r). The same function, but each bias takes its own optimizer step.
   */
  recurrentBias?: boolean;
}

/**
 * The Gated Recurrent Unit of Cho et al. (2014), in the row-vector equations of the tutorial the
 * project grew from:
 *
 * ```
 * z_t = σ(x_t W_z + h_{t-1} U_z + b_z)                  update gate
 * r_t = σ(x_t W_r + h_{t-1} U_r + b_r)                  reset gate
 * h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)       candidate (resetAfter: false, default)
 * h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + c_h))  candidate (resetAfter: true)
 * h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
 * ```
 *
 * Parameters, gates stacked z | r | h along the last axis: W [inputSize, 3H], U [H, 3H], b [3H],
 * and with resetAfter also c [H]; with recurrentBias c is [3H] and z, r gain + c_z, + c_r inside
 * their σ, PyTorch's parametrization. Initialised U(−1/√H, 1/√H) like PyTorch. Written from
 * primitive ops only, so every gate's gradient comes from the tape. Without a tape (inference),
 * a step runs the same equations as a fused kernel where that is faster: see ./gru-fast.ts.
 *
 * @example
 * ```ts
 * const cell = new GRUCell({ inputSize: 3, hiddenSize: 4, seed: 1 });
 * const h1 = cell.forward(variable([[1, 0, 0]]));          // [1, 4], from h0 = 0
 * const h2 = cell.forward(variable([[0, 1, 0]]), h1);
 * ```
 */
export class GRUCell extends Module implements RecurrentCell {
  readonly W: Parameter;
  readonly U: Parameter;
  readonly b: Parameter | null;
  readonly c: Parameter | null;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly resetAfter: boolean;
  readonly recurrentBias: boolean;
  readonly stateCount = 1;
  /** Blocks of U and c, sliced once per sequence (see ./gru-fast.ts). */
  private readonly slices: GruSlices;

  constructor(opts: GRUCellOptions) {
    super();
    const o = checkRecurrentOptions('GRUCell', { ...opts, numLayers: 1 }, ['resetAfter', 'recurrentBias']);
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    this.resetAfter = opts.resetAfter ?? false;
    this.recurrentBias = checkRecurrentBias('GRUCell', opts);
    const H = o.hiddenSize;
    const bound = 1 / Math.sqrt(H);
    this.W = uniformParameter([o.inputSize, 3 * H], bound, opts, 0);
    this.U = uniformParameter([H, 3 * H], bound, opts, 1);
    this.b = o.bias ? uniformParameter([3 * H], bound, opts, 2) : null;
    const cSize = this.recurrentBias ? 3 * H : H;
    this.c = o.bias && this.resetAfter ? uniformParameter([cSize], bound, opts, 3) : null;
    this.slices = new GruSlices(this);
  }

  /** x W + b for every timestep at once: [T, B, I] -> [T, B, 3H] (or [B, I] -> [B, 3H]). */
  project(x: Variable): Variable {
    // A new sequence: fresh slices of U and c for its steps, made here, outside the steps' scopes.
    this.slices.startSequence();
    const xW = x.matmul(this.W);
    return this.b ? xW.add(this.b) : xW;
  }

  /** One step from the projected input xp = x_t W + b, [B, 3H], and state [h_{t-1}]. */
  step(xp: Variable, [hPrev]: Variable[]): Variable[] {
    const h = hPrev as Variable;
    // Without a tape (inference, generation): the same equations, fused where faster.
    if (!isGradEnabled()) return [inferenceStep(this, xp, h, (xp, h) => this.equations(xp, h))];
    // The gates are private to the step: values no gradient rule reads are not kept.
    return internal(() => [this.equations(xp, h)]);
  }

  /** The step written from primitive ops, both reset placements: every gate's gradient comes from the tape. */
  private equations(xp: Variable, h: Variable): Variable {
    const H = this.hiddenSize;
    const B = xp.shape[0];
    const gate = (v: Variable, g: number) => v.slice([0, g * H], [B, H]);
    const plus = (v: Variable, c: Variable | null) => (c ? v.add(c) : v);
    const [xz, xr, xh] = [gate(xp, 0), gate(xp, 1), gate(xp, 2)];
    const { Ugates, Uh, cz, cr, ch } = this.slices.get();
    // h_{t-1} U for the z and r gates in one matmul, [B, 2H] (with resetAfter, for h too: [B, 3H])
    const hU = h.matmul(Ugates);
    // z_t = σ(x_t W_z + h_{t-1} U_z + b_z)          (+ c_z inside the σ with recurrentBias)
    const z = plus(xz.add(gate(hU, 0)), cz).sigmoid();
    // r_t = σ(x_t W_r + h_{t-1} U_r + b_r)          (+ c_r inside the σ with recurrentBias)
    const r = plus(xr.add(gate(hU, 1)), cr).sigmoid();
    let hTilde: Variable;
    if (!this.resetAfter) {
      // h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
      hTilde = xh.add(r.mul(h).matmul(Uh as Variable)).tanh();
    } else {
      // h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + c_h))
      hTilde = xh.add(r.mul(plus(gate(hU, 2), ch))).tanh();
    }
    // h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
    return sub(1, z).mul(h).add(z.mul(hTilde));
  }

  /** One step: x [B, inputSize], h [B, H] (zeros when omitted) -> h' [B, H]. */
  forward(x: Variable, h?: Variable): Variable {
    expectVariable('GRUCell.forward', 'x', x, `[B, ${this.inputSize}]`);
    if (h !== undefined) expectVariable('GRUCell.forward', 'h', h, `[B, ${this.hiddenSize}]`);
    const B = checkCellStep('GRUCell.forward', x, this.inputSize, this.hiddenSize, [
      { name: 'h', value: h, required: false },
    ]);
    // A zero state made here is freed with the ops that read it (or at once, with no graph).
    const h0 = h ?? sharedConstant(zeroTensor(x, B, this.hiddenSize));
    try {
      // Generation, without a tape: x W + b and the whole cell as one fused kernel, where faster.
      if (!isGradEnabled()) {
        const fused = fusedForward(this, x, h0);
        if (fused) return fused;
      }
      return this.step(this.project(x), [h0])[0] as Variable;
    } finally {
      if (h === undefined) releaseShared(h0);
    }
  }
}

/** Checks resetAfter and recurrentBias: booleans, and recurrentBias needs resetAfter (c_h sits inside the reset product). */
function checkRecurrentBias(op: string, opts: { resetAfter?: boolean; recurrentBias?: boolean }): boolean {
  if (opts === null || typeof opts !== 'object') return false; // checkRecurrentOptions says why
  const after = opts.resetAfter ?? false;
  if (typeof after !== 'boolean') throw new Error(`${op}: resetAfter must be true or false, got ${String(after)}`);
  const on = opts.recurrentBias ?? false;
  if (typeof on !== 'boolean') throw new Error(`${op}: recurrentBias must be true or false, got ${String(on)}`);
  if (on && !opts.resetAfter)
    throw new Error(
      `${op}: recurrentBias: true needs resetAfter: true (PyTorch's and Keras' reset_after parametrization)`,
    );
  return on;
}

export interface GRUOptions extends RecurrentOptions, InitOptions {
  resetAfter?: boolean;
  /** One recurrent bias per gate, c [3H], as PyTorch and Keras keep it (needs resetAfter; see GRUCellOptions). */
  recurrentBias?: boolean;
}

/**
 * A multi-layer GRU over whole sequences: numLayers, bidirectional, batchFirst, dropout between
 * layers (training only), optional h0, per-sequence lengths. Parameters l{k}.W, l{k}.U, l{k}.b,
 * (l{k}.c) and l{k}_reverse.* for the backward direction.
 *
 * @example
 * ```ts
 * const gru = new GRU({ inputSize: 8, hiddenSize: 16, numLayers: 2, seed: 0 });
 * const x = variable(randn([5, 3, 8], { seed: 1 }));   // [T = 5, B = 3, 8]
 * const { output, hN } = gru.forward(x);               // output [5, 3, 16], hN [2, 3, 16]
 * const more = gru.forward(x, hN);                     // carry the state on
 * ```
 */
export class GRU extends RecurrentLayer<GRUCell> {
  readonly resetAfter: boolean;
  readonly recurrentBias: boolean;

  constructor(opts: GRUOptions) {
    const recurrentBias = checkRecurrentBias('GRU', opts);
    const resetAfter = opts.resetAfter ?? false;
    super('GRU', opts, ['resetAfter', 'recurrentBias'], (spec) => new GRUCell({ ...spec, resetAfter, recurrentBias }));
    this.resetAfter = resetAfter;
    this.recurrentBias = recurrentBias;
  }

  /**
   * x: [T, B, inputSize] ([B, T, inputSize] with batchFirst); h0: [numLayers·D, B, H].
   * Returns output [T, B, D·H] (or [B, T, D·H]) and hN [numLayers·D, B, H]. hN is made when first
   * read (destructuring reads it), so a loop that uses only `output` leaves nothing behind; it
   * stays readable until the next `backward()`, like `output`.
   */
  forward(x: Variable, h0?: Variable, opts: { lengths?: Int32Array } = {}): { output: Variable; hN: Variable } {
    return this.forwardHidden(x, h0, opts);
  }
}
