import { internal, isGradEnabled, releaseShared, sharedConstant, sub, type Variable, variable } from '@wgru/autograd';
import { gruCell, tidy } from '@wgru/tensor';
import { expectVariable } from '../checks.js';
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

export interface GRUCellOptions extends InitOptions {
  inputSize: number;
  hiddenSize: number;
  /** Whether to learn biases b (and c) (default true). */
  bias?: boolean;
  /** Apply the reset gate after the hidden matmul (cuDNN / PyTorch / Keras reset_after=True). */
  resetAfter?: boolean;
}

/**
 * The Gated Recurrent Unit of Cho et al. (2014), in the seed's row-vector equations:
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
 * and with resetAfter also c [H]. Initialised U(−1/√H, 1/√H) like PyTorch. Written from
 * primitive ops only, so every gate's gradient comes from the tape.
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
  readonly stateCount = 1;

  constructor(opts: GRUCellOptions) {
    super();
    const o = checkRecurrentOptions('GRUCell', { ...opts, numLayers: 1 }, ['resetAfter']);
    this.inputSize = o.inputSize;
    this.hiddenSize = o.hiddenSize;
    this.resetAfter = opts.resetAfter ?? false;
    const H = o.hiddenSize;
    const bound = 1 / Math.sqrt(H);
    this.W = uniformParameter([o.inputSize, 3 * H], bound, opts, 0);
    this.U = uniformParameter([H, 3 * H], bound, opts, 1);
    this.b = o.bias ? uniformParameter([3 * H], bound, opts, 2) : null;
    this.c = o.bias && this.resetAfter ? uniformParameter([H], bound, opts, 3) : null;
  }

  /**
   * U's blocks [U_z U_r] and U_h (resetAfter: false), sliced once per sequence by `project` rather
   * than once per step: every step's gradient for a block then arrives at the same node, and the
   * tape multiplies them all as one matmul (Σ_t h_tᵀ dG_t, [H, T·B] @ [T·B, 2H]) instead of T.
   */
  private blocks: { zr: Variable; h: Variable } | null = null;

  private uBlocks(): { zr: Variable; h: Variable } {
    const H = this.hiddenSize;
    if (!this.blocks || this.blocks.zr.value.disposed || this.blocks.h.value.disposed) {
      this.blocks = { zr: this.U.slice([0, 0], [H, 2 * H]), h: this.U.slice([0, 2 * H], [H, H]) };
    }
    return this.blocks;
  }

  /** x W + b for every timestep at once: [T, B, I] -> [T, B, 3H] (or [B, I] -> [B, 3H]). */
  project(x: Variable): Variable {
    // A new sequence: fresh slices of U for its steps (see uBlocks), made here, outside the
    // steps' internal() scopes.
    this.blocks = null;
    if (!this.resetAfter && isGradEnabled()) this.uBlocks();
    const xW = x.matmul(this.W);
    return this.b ? xW.add(this.b) : xW;
  }

  /** One step from the projected input xp = x_t W + b, [B, 3H], and state [h_{t-1}]. */
  step(xp: Variable, [hPrev]: Variable[]): Variable[] {
    const h = hPrev as Variable;
    // Without a tape (inference, generation), the same equations run as one fused kernel.
    if (!isGradEnabled()) return [this.fusedStep(xp, h)];
    // The gates are private to the step: values no gradient rule reads are not kept.
    return internal(() => [this.composedStep(xp, h)]);
  }

  /** The step written from primitive ops: every gate's gradient comes from the tape. */
  private composedStep(xp: Variable, h: Variable): Variable {
    const H = this.hiddenSize;
    const B = xp.shape[0] as number;
    const gate = (v: Variable, g: number) => v.slice([0, g * H], [B, H]);
    const [xz, xr, xh] = [gate(xp, 0), gate(xp, 1), gate(xp, 2)];
    if (!this.resetAfter) {
      const U = this.uBlocks();
      // h_{t-1} U for the z and r gates in one matmul: [B, 2H]
      const hU = h.matmul(U.zr);
      // z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
      const z = xz.add(gate(hU, 0)).sigmoid();
      // r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
      const r = xr.add(gate(hU, 1)).sigmoid();
      // h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
      const hTilde = xh.add(r.mul(h).matmul(U.h)).tanh();
      // h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
      return sub(1, z).mul(h).add(z.mul(hTilde));
    }
    // h_{t-1} U for all three gates in one matmul: [B, 3H]
    const hU = h.matmul(this.U);
    // z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
    const z = xz.add(gate(hU, 0)).sigmoid();
    // r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
    const r = xr.add(gate(hU, 1)).sigmoid();
    // h̃_t = tanh(x_t W_h + b_h + r_t ⊙ (h_{t-1} U_h + c_h))
    const hUh = this.c ? gate(hU, 2).add(this.c) : gate(hU, 2);
    const hTilde = xh.add(r.mul(hUh)).tanh();
    // h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
    return sub(1, z).mul(h).add(z.mul(hTilde));
  }

  /** The fused inference kernel (@wgru/tensor's gruCell), beside the composed step above. */
  private fusedStep(xp: Variable, h: Variable): Variable {
    // On WebGPU the kernel reads U once per batch row: past a few rows, the composed step (a
    // tuned matmul, then the gates, which the engine fuses into one kernel) is faster. lavapipe,
    // 64 steps at H = 256, fused vs composed: B = 1 26 vs 57-71 ms, B = 4 56-64 vs 65-69 ms,
    // B = 64 555-771 vs 236-256 ms. On the CPU the fused loops are faster at every batch size.
    // (Its intermediates are freed at once, so the engine's fused gate kernel stores only h'.)
    if (!this.fusable(xp)) {
      return variable(tidy(() => this.composedStep(xp, h).value));
    }
    return variable(
      gruCell({ x: xp.value, h: h.value, U: this.U.value, c: this.c?.value ?? null, resetAfter: this.resetAfter }),
    );
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
      // Generation: without a tape, x W + b and the whole cell are ONE fused kernel.
      if (!isGradEnabled() && this.fusable(x)) {
        const b = this.b?.value ?? null;
        return variable(
          gruCell({
            x: x.value,
            W: this.W.value,
            b,
            h: h0.value,
            U: this.U.value,
            c: this.c?.value ?? null,
            resetAfter: this.resetAfter,
          }),
        );
      }
      return this.step(this.project(x), [h0])[0] as Variable;
    } finally {
      if (h === undefined) releaseShared(h0);
    }
  }

  /** Whether the fused cell kernel suits this batch (see fusedStep). */
  private fusable(x: Variable): boolean {
    return x.value.backend.info.name !== 'webgpu' || (x.shape[0] as number) <= FUSED_MAX_BATCH_WEBGPU;
  }
}

export interface GRUOptions extends RecurrentOptions, InitOptions {
  resetAfter?: boolean;
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

  constructor(opts: GRUOptions) {
    super('GRU', opts, ['resetAfter'], (spec) => new GRUCell({ ...spec, resetAfter: opts.resetAfter ?? false }));
    this.resetAfter = opts.resetAfter ?? false;
  }

  /**
   * x: [T, B, inputSize] ([B, T, inputSize] with batchFirst); h0: [numLayers·D, B, H].
   * Returns output [T, B, D·H] (or [B, T, D·H]) and hN [numLayers·D, B, H]. hN is made when first
   * read (destructuring reads it), so a loop that uses only `output` leaves nothing behind; read
   * it before `backward()` frees the graph.
   */
  forward(x: Variable, h0?: Variable, opts: { lengths?: Int32Array } = {}): { output: Variable; hN: Variable } {
    // While exportOnnx traces, one op (see traceModule): ONNX GRU nodes.
    return traceModule(
      this,
      [x, h0, opts?.lengths],
      () => {
        const r = this.run(x, h0 ? [h0] : undefined, opts);
        return {
          output: r.output,
          get hN(): Variable {
            return r.states[0] as Variable;
          },
        };
      },
      (r) => [r.output, r.hN],
    );
  }
}

/** The largest batch whose inference step runs as the fused cell kernel on WebGPU (see GRUCell's fusedStep). */
const FUSED_MAX_BATCH_WEBGPU = 4;
