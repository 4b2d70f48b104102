/**
 * The GRU cell's two speed-ups, kept beside the equations in ./gru.ts that they must agree with
 * (the tests check them against those equations). Neither changes what is computed.
 *
 * 1. Slices of U (and c) once per sequence — when a tape records (training). The equations
 *    multiply h_{t-1} by blocks of U ([U_z U_r] and U_h with resetAfter: false) and, with
 *    recurrentBias, add blocks of c. Slicing them once per sequence rather than once per step
 *    makes every step's gradient for a block arrive at the same node, so the tape multiplies
 *    them all as one matmul (Σ_t h_tᵀ dG_t, [H, T·B] @ [T·B, 2H]) instead of T.
 *
 * 2. The fused inference kernel (@wgru/tensor's gruCell) — when no tape records (inference,
 *    generation) and the batch suits it. It computes a whole step in one kernel, reading U once
 *    per batch row. On the CPU its loops beat the composed step at every batch size. On WebGPU,
 *    past a few rows, the composed step (a tuned matmul, then the gates, which the engine fuses
 *    into one kernel) is faster: lavapipe, 64 steps at H = 256, fused vs composed: B = 1 26 vs
 *    57-71 ms, B = 4 56-64 vs 65-69 ms, B = 64 555-771 vs 236-256 ms. So on WebGPU a batch over
 *    FUSED_MAX_BATCH_WEBGPU rows runs the composed equations, in a tidy scope (their
 *    intermediates are freed at once, so the engine's fused gate kernel stores only h').
 *    That crossover was measured on lavapipe; other adapters may differ, so @wgru/tensor's
 *    autotuner may decide it per adapter and class of batch and hidden sizes (tunedChoice: both
 *    steps timed on a twin cell in 'full' tuning; the built-in rule otherwise).
 *    The kernel takes c [H] only; with recurrentBias, c_z and c_r are added to the projected
 *    input first (x W + b + [c_z, c_r, 0]): the same sums in another order.
 */
import { isGradEnabled, noGrad, type Variable, variable } from '@wgru/autograd';
import {
  add,
  assign,
  type Backend,
  concat,
  empty,
  gruCell,
  slice,
  type Tensor,
  type TimedCandidates,
  tidy,
  tunedChoice,
  uniform,
  withBackend,
} from '@wgru/tensor';
import type { GRUCell, GRUCellOptions } from './gru.js';

/** The largest batch whose inference step runs as the fused cell kernel on WebGPU (see the file comment). */
const FUSED_MAX_BATCH_WEBGPU = 4;

/** The blocks of U and c the equations read; null where a placement has none. */
export interface GruBlocks {
  /** What h_{t-1} multiplies first: [U_z U_r] [H, 2H], or all of U [H, 3H] with resetAfter. */
  Ugates: Variable;
  /** U_h [H, H] (resetAfter: false only: it multiplies r ⊙ h_{t-1}). */
  Uh: Variable | null;
  /** c_z and c_r [H] (recurrentBias only). */
  cz: Variable | null;
  cr: Variable | null;
  /** c_h [H] (resetAfter with a bias). */
  ch: Variable | null;
}

/** The per-sequence slices of one cell's U and c (speed-up 1 in the file comment). */
export class GruSlices {
  private cached: GruBlocks | null = null;

  constructor(private readonly cell: GRUCell) {}

  /** A new sequence: forget the last one's slices, and with a tape make this one's now (outside the steps' scopes). */
  startSequence(): void {
    this.cached = null;
    if (isGradEnabled() && this.sliced()) this.get();
  }

  /** The blocks, sliced when first needed in a sequence (again if a scope has freed them). */
  get(): GruBlocks {
    const { U, c, hiddenSize: H, resetAfter, recurrentBias } = this.cell;
    if (!this.sliced()) return { Ugates: U, Uh: null, cz: null, cr: null, ch: c };
    const live = (v: Variable | null) => v === null || !v.value.disposed;
    const b = this.cached;
    if (b && live(b.Ugates) && live(b.Uh) && live(b.cz) && live(b.cr) && live(b.ch)) return b;
    const part = (v: Variable, g: number, n = 1) =>
      v.rank === 1 ? v.slice([g * H], [n * H]) : v.slice([0, g * H], [H, n * H]);
    const cs = c && recurrentBias ? { cz: part(c, 0), cr: part(c, 1), ch: part(c, 2) } : { cz: null, cr: null, ch: c };
    this.cached = resetAfter ? { Ugates: U, Uh: null, ...cs } : { Ugates: part(U, 0, 2), Uh: part(U, 2), ...cs };
    return this.cached;
  }

  /** Whether there is anything to slice: U's blocks (resetAfter: false) or c's (recurrentBias). */
  private sliced(): boolean {
    return !this.cell.resetAfter || (this.cell.recurrentBias && this.cell.c !== null);
  }
}

/** Which inference step runs (module state, for tests and benchmarks): 'auto' is the rule below. */
export const gruTuning: { path: 'auto' | 'fused' | 'composed' } = { path: 'auto' };

type Step = 'fused' | 'composed';
const pow2ceil = (x: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/**
 * Whether the fused cell kernel suits this batch (x or xp [B, ...]; see the file comment): always
 * off WebGPU; on WebGPU, the tuned choice for the class (batch and hidden size rounded up to powers
 * of two, the reset placement), else B <= FUSED_MAX_BATCH_WEBGPU.
 */
function fusable(cell: GRUCell, x: Variable): boolean {
  if (gruTuning.path !== 'auto') return gruTuning.path === 'fused';
  const backend = x.value.backend;
  if (backend.info.name !== 'webgpu') return true;
  const B = x.shape[0];
  const choices: Step[] = B <= FUSED_MAX_BATCH_WEBGPU ? ['fused', 'composed'] : ['composed', 'fused'];
  const key = `gru|${pow2ceil(B)}|${pow2ceil(cell.hiddenSize)}|${cell.resetAfter ? 'after' : 'before'}`;
  return tunedChoice(backend, key, choices, () => twinSteps(cell, B, backend)) === 'fused';
}

/**
 * Both inference steps at batch B on a twin of `cell` (same class and options, its own weights),
 * so that timing them later never touches the cell itself, which may be gone by then.
 */
function twinSteps(cell: GRUCell, B: number, backend: Backend): TimedCandidates<Step> {
  const H = cell.hiddenSize;
  // Seeded: the twin draws nothing from the global random stream the user's modules use.
  const opts: GRUCellOptions = {
    inputSize: 1,
    hiddenSize: H,
    bias: cell.b !== null,
    resetAfter: cell.resetAfter,
    recurrentBias: cell.recurrentBias,
    seed: 1,
    backend,
  };
  const twin = new (cell.constructor as new (o: GRUCellOptions) => GRUCell)(opts);
  const [xp, h] = withBackend(backend, () => [
    variable(uniform([B, 3 * H], -1, 1, { seed: 1 })),
    variable(uniform([B, H], -1, 1, { seed: 2 })),
  ]);
  return {
    // Each run: one step with the path forced, its output freed (its intermediates: by the step).
    run: (step) => {
      const saved = gruTuning.path;
      gruTuning.path = step;
      try {
        noGrad(() => twin.step(xp, [h])[0]?.value.dispose());
      } finally {
        gruTuning.path = saved;
      }
    },
    dispose: () => {
      for (const p of twin.parameters()) p.value.dispose();
      xp.value.dispose();
      h.value.dispose();
    },
  };
}

/**
 * One inference step from the projected input xp [B, 3H]: the fused kernel where it is faster,
 * else `equations` (the composed step of gru.ts) with its intermediates freed at once.
 */
export function inferenceStep(
  cell: GRUCell,
  xp: Variable,
  h: Variable,
  equations: (xp: Variable, h: Variable) => Variable,
): Variable {
  if (!fusable(cell, xp)) return variable(tidy(() => equations(xp, h).value));
  const { U, c, resetAfter } = cell;
  if (!(cell.recurrentBias && c)) {
    return variable(gruCell({ x: xp.value, h: h.value, U: U.value, c: c?.value ?? null, resetAfter }));
  }
  return variable(
    tidy(() => {
      const { zr, ch } = splitRecurrentBias(c.value, cell.hiddenSize);
      return gruCell({ x: add(xp.value, zr), h: h.value, U: U.value, c: ch, resetAfter });
    }),
  );
}

/** One whole inference step from x [B, I] (x W + b inside the kernel), or null where the kernel does not suit. */
export function fusedForward(cell: GRUCell, x: Variable, h0: Variable): Variable | null {
  if (!fusable(cell, x)) return null;
  const { W, U, b, c, resetAfter } = cell;
  if (!(cell.recurrentBias && c && b)) {
    return variable(
      gruCell({
        x: x.value,
        W: W.value,
        b: b?.value ?? null,
        h: h0.value,
        U: U.value,
        c: c?.value ?? null,
        resetAfter,
      }),
    );
  }
  return variable(
    tidy(() => {
      const { zr, ch } = splitRecurrentBias(c.value, cell.hiddenSize);
      return gruCell({ x: x.value, W: W.value, b: add(b.value, zr), h: h0.value, U: U.value, c: ch, resetAfter });
    }),
  );
}

/** c [3H] as what the kernel takes: [c_z, c_r, 0] to add to the input side, and c_h [H]. */
function splitRecurrentBias(c: Tensor, H: number): { zr: Tensor; ch: Tensor } {
  const zero = empty(c.backend, [H], c.dtype);
  assign(zero, 0);
  return { zr: concat([slice(c, [0], [2 * H]), zero], 0), ch: slice(c, [2 * H], [H]) };
}
