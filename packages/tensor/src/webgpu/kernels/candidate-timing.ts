/**
 * The timing loop the autotuner runs for every family (tuner.ts): candidates that record their
 * work, a submit, and a wait for the queue. Each candidate is warmed up (a software driver
 * JIT-compiles there) and run once, then ROUNDS rounds of submits of several runs each time every
 * candidate not 4x slower than the best (wall time from submit to the queue's completion, the best
 * round counts; device time from timestamp queries where the timing device has them), then
 * CONFIRM_ROUNDS of the built-in choice against the provisional winner. Every
 * submit is a step of the budget (tuning-budget.ts): the loop stops at the first step it cuts.
 */
import { CUT, type TuningBudget } from './tuning-budget.js';

/** What timing one class measured: per candidate, ms per run (Infinity: not timed), and costs. */
export interface Timings {
  ms: number[];
  /** Wall time from createComputePipelineAsync to its resolution, per candidate (off the thread). */
  compileMs: number[];
  /** The single-workgroup warm-up dispatch, per candidate (a software driver's JIT). */
  warmupMs: number[];
  /** Every candidate ran to the end within the budget. */
  complete: boolean;
  /** `ms` is device time from timestamp queries (else wall time around a submit). */
  timestamps?: boolean;
}

/** A timed run aims at about this many milliseconds of work per submit. */
const SUBMIT_MS = 4;
const MAX_REPS = 16;
/** Rounds over the candidates (each candidate's best counts: a shared machine's load comes and goes). */
const ROUNDS = 3;
/**
 * Rounds more of the built-in choice against the provisional winner, alternating, before a switch:
 * one slow spell during a single round (a JIT on the training device sharing the CPU) must not
 * decide which kernel a class runs for good.
 */
const CONFIRM_ROUNDS = 3;
/**
 * The longest warm-up to expect where submits run on the calling thread (Dawn's OpenGL ES
 * backend): llvmpipe's JIT there took 280 to 590 ms per kernel with an empty Mesa shader cache
 * (1 to 4 ms once the cache has the kernel).
 */
const SYNC_JIT_MS = 600;
/**
 * Where the submits go: whether they run the GPU work on the calling thread (Dawn on OpenGL ES,
 * known from the adapter's description), and the longest warm-up submit seen there.
 */
export interface SubmitSite {
  synchronous: boolean;
  longestJitMs: number;
}

/** The longest warm-up to expect before starting one: 0 where a timer can cut it, see SYNC_JIT_MS. */
export function jitMs(site: SubmitSite): number {
  return site.synchronous ? Math.max(SYNC_JIT_MS, 1.5 * site.longestJitMs) : 0;
}

/**
 * Device time from timestamp queries, where the device has them: `start` before a submit's
 * recording, `read` once it is done (the summed time of its kernels, in ms).
 */
export interface DeviceTimer {
  start(): void;
  read(): Promise<number>;
}

/**
 * What the loop drives: candidate i's work (a warm-up, or one timed run), the submit, the wait;
 * with a `timer`, timed runs are measured in device time rather than wall time (warm-ups, whose
 * cost is the driver's JIT, always in wall time).
 */
export interface Candidates {
  record(i: number, warm: boolean): void;
  submit(): void;
  done(): Promise<void>;
  site: SubmitSite;
  timer?: DeviceTimer;
}

/**
 * Times the candidates whose `ok[i]` holds (0 is the built-in choice, the reference) into `out`;
 * `challenger(ms)` names the provisional winner (0: none) for the confirming rounds. `out.complete`
 * says whether every step ran.
 */
export async function timeCandidates(
  ok: boolean[],
  s: Candidates,
  budget: TuningBudget,
  challenger: (ms: number[]) => number,
  out: Timings,
): Promise<Timings> {
  /** One submit of `reps` runs (or a warm-up), as a budget step; its wall time, or CUT. */
  const run = async (i: number, warm: boolean, reps: number, expectedMs: number) => {
    let t0 = 0;
    let t1 = 0;
    const timer = warm ? undefined : s.timer;
    const done = await budget.step(() => {
      t0 = performance.now();
      timer?.start();
      for (let r = 0; r < reps; r++) s.record(i, warm);
      s.submit();
      t1 = performance.now();
      return timer ? s.done().then(() => timer.read()) : s.done().then(() => -1);
    }, expectedMs);
    if (done === CUT) return CUT;
    const ms = done >= 0 ? done : performance.now() - t0;
    if (warm && s.site.synchronous) s.site.longestJitMs = Math.max(s.site.longestJitMs, t1 - t0);
    return ms;
  };
  // Where submits run on the calling thread no timer can cut a step: a warm-up (a JIT compile
  // there) starts only where what is left covers the longest one to expect, and a candidate's
  // first run only where it covers 4 times the built-in choice's (slower ones are pruned).
  const first: number[] = ok.map(() => Number.POSITIVE_INFINITY);
  for (let i = 0; i < ok.length; i++) {
    if (!ok[i]) continue;
    const expected = Number.isFinite(first[0]) ? (s.site.synchronous && i > 0 ? 4 : 1) * first[0] : 0;
    const warm = await run(i, true, 1, jitMs(s.site));
    if (warm === CUT) return out;
    out.warmupMs[i] = warm;
    const once = await run(i, false, 1, expected);
    if (once === CUT) return out;
    first[i] = once;
  }
  const best = Math.min(...first);
  const timeRound = async (which: number[]): Promise<boolean> => {
    for (const i of which) {
      const reps = Math.min(MAX_REPS, Math.max(1, Math.round(SUBMIT_MS / Math.max(first[i], 1e-3))));
      const ms = await run(i, false, reps, reps * first[i]);
      if (ms === CUT) return false;
      out.ms[i] = Math.min(out.ms[i], ms / reps);
    }
    return true;
  };
  // Candidates 4x slower than the best in a single run are not worth more of the budget (the
  // built-in choice, the reference, always is).
  const kept = first.flatMap((f, i) => (Number.isFinite(f) && (i === 0 || f <= 4 * best) ? [i] : []));
  for (let round = 0; round < ROUNDS; round++) if (!(await timeRound(kept))) return out;
  const w = challenger(out.ms);
  for (let round = 0; w !== 0 && round < CONFIRM_ROUNDS; round++) if (!(await timeRound([0, w]))) return out;
  out.complete = true;
  return out;
}
