/**
 * The WebGPU autotuner. Some kernel choices were made from measurements on software adapters; on
 * another adapter another choice may be faster. The tuner times the candidates of each choice on
 * the adapter it runs on, per **shape class**, and keeps the fastest. Families tuned:
 *
 * - matmul: kernel family (buffer / texture) and tile (matmul-candidates.ts). A class is the dtype,
 *   whether B is kept packed (a recurrence's h @ U), the operands' layouts (row-major or transposed:
 *   a gradient's x^T @ dy reads A by columns), and M, K and N rounded up to powers of two. Batched
 *   products keep the heuristic's plan.
 * - elementwise: the fused kernels' workgroup size (ELEMENTWISE_CHOICES), per element count rounded
 *   up to a power of two.
 * - reduce: one lane per output or a workgroup per output (reduce.ts), per output count and reduced
 *   count, each rounded up to a power of two, and whether the last reduced axis is contiguous.
 *
 * Modes: 'off' (the built-in choices, always); 'cached' (the default: the choice stored for the
 * class by earlier runs on this adapter, tuning-cache.ts, else the built-in one; nothing is timed);
 * 'full' (as 'cached', and the first dispatch of each class without a stored choice runs the
 * built-in one while, in the background, the candidates are timed on a second device,
 * timing-rig.ts; later dispatches of the class use the fastest).
 *
 * Tuning time is bounded by a TuningBudget (tuning-budget.ts, 1 s per process unless
 * WGRU_TUNING_BUDGET_MS says otherwise): every piece of tuning work is one of its steps, nothing is
 * waited for past the deadline, and a class whose timing was cut short keeps the built-in choice
 * and is not stored, so a later run tunes it.
 */
import type { OptionalFeature } from '../device.js';
import type { Geometry, MatmulDevice, MatmulPlan, MatmulTarget } from './matmul-plan.js';
import { matmulCandidates, planFor, type Tile } from './matmul-candidates.js';
import { matmulTuning } from './matmul-plan.js';
import { type SubmitSite, type Timings, timeCandidates } from './candidate-timing.js';
import { type KernelVariant, kernelOf, TimingRig } from './timing-rig.js';
import { CUT, TuningBudget } from './tuning-budget.js';

export type TuningMode = 'off' | 'cached' | 'full';
export const TUNING_MODES: readonly TuningMode[] = ['off', 'cached', 'full'];

/** A matmul class's fastest plan: its family and tile, and ms per product for it and for the heuristic's. */
export interface MatmulChoice extends Tile {
  ms: number;
  heuristicMs: number;
}

/** Another family's fastest candidate, by name (e.g. 'wg 256', 'workgroup'), with the same times. */
export interface VariantChoice {
  choice: string;
  ms: number;
  heuristicMs: number;
}

export type TunedChoice = MatmulChoice | VariantChoice;

/** Shape class -> fastest choice, for one adapter. */
export type TuningTable = Record<string, TunedChoice>;

/** The candidates of the families other than matmul, the built-in one first (reduce: see reduce.ts). */
export const ELEMENTWISE_CHOICES = ['wg 64', 'wg 128', 'wg 256', 'wg 32'] as const;
export const REDUCE_CHOICES = ['lane', 'workgroup'] as const;

/** What timing one class cost and found (for `tuning()` and the `tune` command). */
export interface TuningLogEntry {
  shapeClass: string;
  /** Per candidate: "buffer 8x1" or "wg 128", ms per run (null: not timed), compile and warm-up wall times. */
  candidates: { plan: string; ms: number | null; compileMs: number; warmupMs: number | null }[];
  /** False where the budget ran out before every candidate was timed. */
  complete: boolean;
  /**
   * How the runs were timed: 'timestamps', the calling thread's recording and submit plus the
   * dispatches' device time from timestamp queries; 'wall', wall time from recording to completion.
   */
  clock: 'timestamps' | 'wall';
}

/**
 * A family timed as whole operations on the device that runs them (see pickTimed): each
 * candidate's work, recorded once per call, and the release of what `prepare` made for it.
 */
export interface TimedCandidates<C extends string> {
  run(choice: C): void;
  dispose(): void;
}

/** The backend's own queue, for families timed as operations: flush what is recorded, and wait. */
interface MainQueue {
  flush(): void;
  done(): Promise<void>;
  site: SubmitSite;
}

/** What a variant family's timing needs, built when the timing starts (see pickVariant). */
export interface VariantRequest {
  variants: KernelVariant[];
  bufferBytes: number[];
}

/** A candidate replaces the built-in choice only below this fraction of its time. */
const SWITCH_BELOW = 0.95;

/** Wall time that tuning may take in one process, all classes together. */
export const DEFAULT_BUDGET_MS = 1000;

/** The fastest candidate, or 0 (the built-in one) where none is below SWITCH_BELOW of its time. */
const fastest = (ms: number[]): number => {
  let w = 0;
  for (let i = 1; i < ms.length; i++) if (ms[i] < ms[w] && ms[i] < SWITCH_BELOW * ms[0]) w = i;
  return w;
};

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

/** The class of a fused elementwise kernel over n elements, e.g. 'elementwise|4096'. */
export const elementwiseClass = (n: number): string => `elementwise|${pow2ceil(n)}`;

/** The class of a reduction to nOut outputs of nRed elements each, e.g. 'reduce|64|1024|c' ('s': strided). */
export const reduceClass = (nOut: number, nRed: number, contiguous: boolean): string =>
  `reduce|${pow2ceil(nOut)}|${pow2ceil(nRed)}|${contiguous ? 'c' : 's'}`;

/** Whether a stored choice is a matmul plan. */
const isMatmulChoice = (c: TunedChoice): c is MatmulChoice => 'path' in c;

/**
 * Waits, uncharged (the tuner does nothing meanwhile), until the calling thread answers a 1 ms
 * timer within 4 ms, or for at most 2 s: a training's first steps compile their kernels on that
 * thread (15 to 70 ms each on lavapipe), and a tuning step that straddled that work would be
 * charged time that was the training's, not tuning's.
 */
async function calm(): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < 2000) {
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (performance.now() - t0 < 4) return;
  }
}

/** The device the timing rig opens is made like the main one (its features, level, kind). */
type Like = Pick<MatmulTarget, 'featureLevel' | 'software'> & { features: readonly OptionalFeature[] };

export class KernelTuner {
  mode: TuningMode = 'off';
  table: TuningTable = {};
  readonly budget = new TuningBudget(DEFAULT_BUDGET_MS);
  /** Called after a class is tuned (the backend saves the table). */
  onTuned: ((table: TuningTable) => Promise<void>) | null = null;
  readonly log: TuningLogEntry[] = [];
  /** Classes waiting to be timed, and the loop that times them one at a time (null: none running). */
  private readonly waiting: { key: string; priority: number; job: (rig: TimingRig | null) => Promise<void> }[] = [];
  private running: Promise<void> | null = null;
  private readonly scheduled = new Set<string>();
  /** The timing device, opening or open (null: not yet, or given back). */
  private rig: Promise<TimingRig | null> | null = null;

  /** The backend's own queue, for families timed as operations (pickTimed). */
  private readonly main: MainQueue;

  /** A tuner for the backend on `device` (`flush` submits what it has recorded; the description names the driver). */
  constructor(
    private readonly like: Like,
    device: GPUDevice,
    flush: () => void,
    description: string,
  ) {
    // Dawn on OpenGL ES runs GPU work inside submit, on the calling thread.
    const site = { synchronous: /OpenGL/i.test(description), longestJitMs: 0 };
    this.main = { flush, done: () => device.queue.onSubmittedWorkDone(), site };
  }

  /**
   * In 'full', opens the timing device now (a budget step like any other), while the backend is
   * idle: opened later, during a first training step whose kernels compile on the calling thread,
   * its wall time was 400 to 800 ms on lavapipe instead of 15 to 60.
   */
  async prepare(): Promise<void> {
    if (this.mode === 'full') await this.openRig().catch(() => null);
  }

  get budgetMs(): number {
    return this.budget.budgetMs;
  }
  set budgetMs(ms: number) {
    this.budget.budgetMs = ms;
  }

  /** The plan to record: its class's tuned plan, else the heuristic's (scheduling a tuning in 'full'). */
  pickMatmul(
    target: MatmulTarget,
    g: Geometry,
    heuristic: MatmulPlan,
    bPacked: boolean,
    device: MatmulDevice,
  ): MatmulPlan {
    // A forced family (tests, benchmarks) or a batched product: the heuristic.
    if (this.mode === 'off' || matmulTuning.path !== 'auto' || g.batch !== 1) return heuristic;
    const key = shapeClass(g, bPacked);
    const tuned = this.table[key];
    if (tuned && isMatmulChoice(tuned)) return planFor(g, device, bPacked, tuned) ?? heuristic;
    if (this.mode === 'full') {
      const geo = { ...g };
      this.schedule(key, 0, (rig) => this.tuneMatmul(rig, target, key, geo, bPacked, device));
    }
    return heuristic;
  }

  /**
   * The candidate to run for a dispatch of class `key` (one of `choices`, the built-in one first):
   * the stored one, else the built-in one; in 'full', a class seen for the first time is timed in
   * the background with the variants `request` builds (called then, inside the budget).
   */
  pickVariant<C extends string>(key: string, choices: readonly C[], request: () => VariantRequest): C {
    if (this.mode === 'off') return choices[0];
    const tuned = this.table[key];
    if (tuned && !isMatmulChoice(tuned) && choices.includes(tuned.choice as C)) return tuned.choice as C;
    if (this.mode === 'full') this.schedule(key, 1, (rig) => this.tuneVariant(rig, key, choices, request));
    return choices[0];
  }

  /**
   * As pickVariant, for a family whose candidates are compositions of operations rather than one
   * kernel each (nn's GRU step: one fused kernel, or a matmul and fused gates): they are timed on
   * the backend's own queue, as `prepare()`'s candidates record them, at a moment when the calling
   * thread is idle (so, between the user's reads: nothing of theirs is pending).
   */
  pickTimed<C extends string>(key: string, choices: readonly C[], prepare: () => TimedCandidates<C>): C {
    if (this.mode === 'off') return choices[0];
    const tuned = this.table[key];
    if (tuned && !isMatmulChoice(tuned) && choices.includes(tuned.choice as C)) return tuned.choice as C;
    if (this.mode === 'full') this.schedule(key, 1, () => this.tuneTimed(key, choices, prepare), false);
    return choices[0];
  }

  /** Resolves once every tuning scheduled so far has finished. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Gives the timing device back (it is opened again for the next class). */
  close(): void {
    void this.rig?.then((rig) => rig?.destroy());
    this.rig = null;
  }

  /**
   * Queues a class's tuning (once per class, while budget is left). Matmul classes (priority 0)
   * go before the others (1): a training step's time is mostly its products, so they get the
   * budget first. A job that fails leaves its class untuned.
   */
  private schedule(key: string, priority: number, job: (rig: TimingRig) => Promise<void>, rig = true): void {
    if (this.scheduled.has(key) || this.budget.left() <= 0) return;
    this.scheduled.add(key);
    const run = rig ? (r: TimingRig | null) => (r ? job(r) : Promise.resolve()) : job;
    this.waiting.push({ key, priority, job: run as (rig: TimingRig | null) => Promise<void> });
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        try {
          if (this.budget.left() > 0) await calm();
          // The next class is picked once the device is open: by then the dispatches recorded
          // with the first one (a whole forward pass) have queued their classes too.
          const rig = await this.openRig().catch(() => null);
          const i = this.waiting.reduce((best, w, j) => (w.priority < this.waiting[best].priority ? j : best), 0);
          const [next] = this.waiting.splice(i, 1);
          await next.job(rig);
        } catch {
          // a lost device or a failed compile: the class keeps its built-in choice
        }
      }
    } finally {
      // Synchronously after the last job: a class scheduled from now on starts a new loop. The
      // device stays open for it while budget is left.
      this.running = null;
      if (this.budget.left() <= 0) this.close();
    }
  }

  /** The timing device, opened as a budget step (a device that arrives after the deadline is destroyed). */
  private openRig(): Promise<TimingRig | null> {
    if (this.budget.left() <= 0 && !this.rig) return Promise.resolve(null);
    this.rig ??= this.budget
      .step(
        () => TimingRig.open(this.like),
        0,
        (late) => late?.destroy(),
      )
      .then((rig) => (rig === CUT ? null : rig));
    return this.rig;
  }

  /** Logs a class's timings (not a class left alone: nothing compiled, nothing run). */
  private record(key: string, names: string[], t: Timings): void {
    if (t.compileMs.length === 0 && t.warmupMs.length === 0) return;
    this.log.push({
      shapeClass: key,
      candidates: names.map((plan, i) => ({
        plan,
        ms: Number.isFinite(t.ms[i]) ? round(t.ms[i]) : null,
        compileMs: round(t.compileMs[i] ?? 0),
        warmupMs: t.warmupMs[i] === undefined ? null : round(t.warmupMs[i]),
      })),
      complete: t.complete,
      clock: t.timestamps ? 'timestamps' : 'wall',
    });
  }

  /**
   * The index of the fastest candidate: another than the built-in one (0) only where it is clearly
   * faster (timings on a busy machine swing, and a choice that merely ties is not worth a second
   * kernel) and stayed so through the confirming rounds; null where the timing was cut short
   * (pruned candidates, 4x slower, count as timed).
   */
  private winner(t: Timings): number | null {
    return t.complete && Number.isFinite(t.ms[0]) ? (t.winner ?? 0) : null;
  }

  /** Stores a class's choice and saves the table (a budget step, like all tuning work). */
  private async store(key: string, choice: TunedChoice): Promise<void> {
    this.table[key] = choice;
    const save = this.onTuned;
    if (save) await this.budget.step(() => save(this.table));
  }

  private async tuneMatmul(
    rig: TimingRig,
    target: MatmulTarget,
    key: string,
    g: Geometry,
    bPacked: boolean,
    device: MatmulDevice,
  ): Promise<void> {
    const plans = await this.budget.step(async () => matmulCandidates(g, device, bPacked));
    if (plans === CUT) return;
    const t = await rig.timeMatmul(g, plans, bPacked, this.budget, fastest);
    this.record(key, plans.map(describePlan), t);
    const w = this.winner(t);
    if (w === null) return;
    const win = plans[w];
    // The winner's kernel for this product, compiled off the calling thread before it is used.
    const compile = target.pipelineAsync;
    if (w !== 0 && compile) {
      const k = kernelOf(g, win);
      const done = await this.budget.step(() => compile(k.key, k.code).catch(() => {}));
      if (done === CUT) return;
    }
    await this.store(key, { path: win.path, TM: win.TM, TN: win.TN, ms: round(t.ms[w]), heuristicMs: round(t.ms[0]) });
  }

  private async tuneTimed<C extends string>(key: string, choices: readonly C[], prepare: () => TimedCandidates<C>) {
    const c = await this.budget.step(async () => prepare());
    if (c === CUT) return;
    const out: Timings = {
      ms: choices.map(() => Number.POSITIVE_INFINITY),
      compileMs: [],
      warmupMs: [],
      complete: false,
    };
    try {
      const { flush, done, site } = this.main;
      const record = (i: number) => c.run(choices[i]);
      const t = await timeCandidates(
        choices.map(() => true),
        { record, submit: flush, done, site },
        this.budget,
        fastest,
        out,
      );
      this.record(key, [...choices], t);
      const w = this.winner(t);
      if (w !== null) await this.store(key, { choice: choices[w], ms: round(t.ms[w]), heuristicMs: round(t.ms[0]) });
    } finally {
      c.dispose();
    }
  }

  private async tuneVariant(rig: TimingRig, key: string, choices: readonly string[], request: () => VariantRequest) {
    const req = await this.budget.step(async () => request());
    if (req === CUT) return;
    const t = await rig.timeKernels(req.variants, req.bufferBytes, this.budget, fastest);
    this.record(key, [...choices], t);
    const w = this.winner(t);
    if (w === null) return;
    await this.store(key, { choice: choices[w], ms: round(t.ms[w]), heuristicMs: round(t.ms[0]) });
  }
}
