/**
 * The matmul autotuner. The heuristic in matmul-plan.ts picks a kernel family and a tile from
 * measurements on software adapters; on another adapter another plan may be faster. Modes:
 *
 * - 'off': the heuristic's plan, always.
 * - 'cached' (the default): the plan stored for the product's shape class by earlier runs on this
 *   adapter (tuning-cache.ts), else the heuristic's. Nothing is timed.
 * - 'full': as 'cached', and the first product of each shape class that has no stored plan runs
 *   with the heuristic's plan while, in the background, the candidates (matmul-candidates.ts) are
 *   timed on a second device (matmul-timing.ts). Later products of the class use the fastest.
 *
 * A shape class is the dtype, whether B is kept packed (a recurrence's h @ U), the operands'
 * layouts (row-major or transposed: a gradient's x^T @ dy reads A by columns), and M, K and N
 * rounded up to powers of two. Batched products keep the heuristic's plan.
 *
 * Tuning time is bounded by construction: every step (opening the timing device, compiling the
 * candidates, each warm-up and each timed submit) is charged at its wall time to a budget
 * (`budgetMs`, 1 s per process unless WGRU_TUNING_BUDGET_MS says otherwise), and no step starts
 * once it is spent. A class whose timing the budget cut short keeps the heuristic and is not stored,
 * so a later run tunes it. The part of those steps that ran on the calling thread is `threadMs`.
 */
import type { Geometry, MatmulDevice, MatmulPlan, MatmulTarget } from './matmul-plan.js';
import { matmulCandidates, planFor, type Tile } from './matmul-candidates.js';
import { matmulTuning } from './matmul-plan.js';
import { kernelOf, TimingRig } from './matmul-timing.js';

export type TuningMode = 'off' | 'cached' | 'full';
export const TUNING_MODES: readonly TuningMode[] = ['off', 'cached', 'full'];

/** The fastest plan of a shape class: its family and tile, and ms per product for it and for the heuristic's. */
export interface TunedChoice extends Tile {
  ms: number;
  heuristicMs: number;
}

/** Shape class -> fastest plan, for one adapter. */
export type TuningTable = Record<string, TunedChoice>;

/** What timing one class cost and found (for `tuning()` and the `tune` command). */
export interface TuningLogEntry {
  shapeClass: string;
  /** Per candidate: "buffer 8x1", ms per product (null: not timed), compile and warm-up wall times. */
  candidates: { plan: string; ms: number | null; compileMs: number; warmupMs: number | null }[];
  /** False where the budget ran out before every candidate was timed. */
  complete: boolean;
}

/** A candidate replaces the heuristic's plan only below this fraction of its time. */
const SWITCH_BELOW = 0.9;

/** Wall time that tuning may take in one process, all classes together. */
export const DEFAULT_BUDGET_MS = 1000;

const pow2ceil = (x: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, x)));
const round = (ms: number): number => Number(ms.toFixed(4));
const describePlan = (p: Tile): string => `${p.path} ${p.TM}x${p.TN}`;

/** An operand's layout: 'n' (rows contiguous), 't' (columns contiguous: a transpose), 's' (strided). */
const layout = (x: { s0: number; s1: number }): string => (x.s1 === 1 ? 'n' : x.s0 === 1 ? 't' : 's');

/** The shape class of a product (see the file's comment), e.g. 'f32|B once|nt|64x256x1024'. */
export function shapeClass(g: Geometry, bPacked: boolean): string {
  const sizes = `${pow2ceil(g.M)}x${pow2ceil(g.K)}x${pow2ceil(g.N)}`;
  return `${g.T}|${bPacked ? 'B kept' : 'B once'}|${layout(g.a)}${layout(g.b)}|${sizes}`;
}

export class MatmulTuner {
  mode: TuningMode = 'off';
  table: TuningTable = {};
  budgetMs = DEFAULT_BUDGET_MS;
  /** Called after a class is tuned (the backend saves the table). */
  onTuned: ((table: TuningTable) => Promise<void>) | null = null;
  /** Tuning's wall time so far, all steps; and the part of it spent on the calling thread. */
  spentMs = 0;
  threadMs = 0;
  readonly log: TuningLogEntry[] = [];
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly scheduled = new Set<string>();
  private rig: TimingRig | null = null;

  /** The plan to record: its class's tuned plan, else the heuristic's (scheduling a tuning in 'full'). */
  pick(target: MatmulTarget, g: Geometry, heuristic: MatmulPlan, bPacked: boolean, device: MatmulDevice): MatmulPlan {
    // A forced family (tests, benchmarks) or a batched product: the heuristic.
    if (this.mode === 'off' || matmulTuning.path !== 'auto' || g.batch !== 1) return heuristic;
    const key = shapeClass(g, bPacked);
    const tuned = this.table[key];
    if (tuned) return planFor(g, device, bPacked, tuned) ?? heuristic;
    if (this.mode === 'full' && !this.scheduled.has(key) && this.spentMs < this.budgetMs) {
      this.scheduled.add(key);
      this.pending++;
      const geo = { ...g };
      this.queue = this.queue
        .then(() => this.tune(target, key, geo, bPacked, device))
        .catch(() => {})
        .finally(() => {
          if (--this.pending === 0) this.close();
        });
    }
    return heuristic;
  }

  /** Resolves once every tuning scheduled so far has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Gives the timing device back (it is opened again for the next class). */
  close(): void {
    this.rig?.destroy();
    this.rig = null;
  }

  private readonly budget = {
    left: () => this.budgetMs - this.spentMs,
    charge: (ms: number, threadMs: number) => {
      this.spentMs += ms;
      this.threadMs += threadMs;
    },
  };

  private async tune(target: MatmulTarget, key: string, g: Geometry, bPacked: boolean, device: MatmulDevice) {
    if (this.budget.left() <= 0) return;
    if (!this.rig) {
      const t0 = performance.now();
      this.rig = await TimingRig.open(target);
      this.budget.charge(performance.now() - t0, 0);
      if (!this.rig) return;
    }
    const plans = matmulCandidates(g, device, bPacked);
    const t = await this.rig.time(g, plans, bPacked, this.budget);
    this.log.push({
      shapeClass: key,
      candidates: plans.map((p, i) => ({
        plan: describePlan(p),
        ms: Number.isFinite(t.ms[i]) ? round(t.ms[i]) : null,
        compileMs: round(t.compileMs[i] ?? 0),
        warmupMs: t.warmupMs[i] === undefined ? null : round(t.warmupMs[i]),
      })),
      complete: t.complete,
    });
    // Pruned candidates (4x slower in a single run) count as timed; a cut-short class is not stored.
    if (!t.complete || !Number.isFinite(t.ms[0])) return;
    // Another plan only where it is clearly faster: timings on a busy machine swing, and a plan
    // that merely ties with the heuristic's is not worth a second kernel.
    let w = 0;
    for (let i = 1; i < plans.length; i++) if (t.ms[i] < t.ms[w] && t.ms[i] < SWITCH_BELOW * t.ms[0]) w = i;
    const win = plans[w];
    // The winner's kernel for this product, compiled off the calling thread before it is used.
    if (w !== 0 && target.pipelineAsync) {
      const k = kernelOf(g, win);
      await target.pipelineAsync(k.key, k.code).catch(() => {});
    }
    this.table[key] = { path: win.path, TM: win.TM, TN: win.TN, ms: round(t.ms[w]), heuristicMs: round(t.ms[0]) };
    await this.onTuned?.(this.table);
  }
}
