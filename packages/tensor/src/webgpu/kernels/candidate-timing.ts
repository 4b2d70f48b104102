/**
 * The timing loop the autotuner runs for every family (tuner.ts): candidates that record their
 * work, a submit, and a wait for the queue. Each candidate is warmed up (a software driver
 * JIT-compiles there) and run once, then ROUNDS rounds of submits of several runs each time every
 * candidate not 4x slower than the best, then CONFIRM_ROUNDS of the built-in choice against the
 * provisional winner. Every submit is a step of the budget (tuning-budget.ts): the loop stops at
 * the first step it cuts.
 *
 * What is timed is what a candidate costs a caller: the run's recording and submit on the calling
 * thread (the JavaScript side: kernel code and key, bind groups, parameters, encoding), plus the
 * device time of every dispatch it records (a texture matmul's packs included) from timestamp
 * queries where the device has them; elsewhere wall time from recording to the queue's completion.
 * Kernel time alone, as before, left out the recording, which differs between candidates
 * (lavapipe: 0.12 to 0.23 ms per product for the 16x4 texture tile, whose kernel code is the
 * longest, 0.04 to 0.10 for most others: as much as a small product's kernel). What is left out,
 * the wait from submit to completion around the dispatches, is the same for every candidate; on a
 * busy machine it is mostly the scheduler's (at load 3, a submit of six products of 0.3 ms took
 * from 2 to 280 ms).
 *
 * Candidates are compared in pairs: a candidate's time is the built-in choice's median, scaled by
 * the median over rounds of its ratio to the built-in choice timed in the same round (rounds run
 * forwards and backwards in turn; in each, a candidate's better of two submits counts), so load
 * that comes and goes over the rounds slows both sides of a ratio alike. Before, each candidate's
 * best round counted, which let one quiet moment decide a switch (lavapipe at load 3: a 256³ class
 * switched to texture 4x4 on one 1.44 ms round against the built-in tile's best of 1.97 ms; timed
 * end to end, 4x4 was 1.3 to 1.4x slower than the built-in tile).
 */
import { CUT, type TuningBudget } from './tuning-budget.js';

/** What timing one class measured: per candidate, ms per run (Infinity: not timed), and costs. */
export interface Timings {
  /** Ms per run: the built-in choice's median, the others scaled by their paired ratios (pairedMs). */
  ms: number[];
  /** Wall time from createComputePipelineAsync to its resolution, per candidate (off the thread). */
  compileMs: number[];
  /** The single-workgroup warm-up dispatch, per candidate (a software driver's JIT). */
  warmupMs: number[];
  /** Every candidate ran to the end within the budget. */
  complete: boolean;
  /** Once complete: the confirmed winner, or 0 (the built-in choice) where none was confirmed. */
  winner?: number;
  /** `ms` counts device time from timestamp queries (else wall time around a submit). */
  timestamps?: boolean;
}

/** A timed run aims at about this many milliseconds of work per submit. */
const SUBMIT_MS = 4;
const MAX_REPS = 16;
/** Rounds over the candidates (each gives every candidate a ratio to the built-in choice). */
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
 * with a `timer`, a timed run counts the calling thread's recording and submit plus the device
 * time of its dispatches rather than wall time (warm-ups, whose cost is the driver's JIT, always
 * count wall time).
 */
export interface Candidates {
  record(i: number, warm: boolean): void;
  submit(): void;
  done(): Promise<void>;
  site: SubmitSite;
  timer?: DeviceTimer;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/**
 * Ms per run from rounds of paired timings (`rounds[r][i]`, undefined where candidate i was not
 * timed in round r): the built-in choice's median, and for each other candidate that median times
 * the median of its ratios to the built-in choice in the rounds that timed both.
 */
export function pairedMs(rounds: (number | undefined)[][], n: number): number[] {
  const ref = median(rounds.flatMap((r) => (r[0] === undefined ? [] : [r[0]])));
  return Array.from({ length: n }, (_, i) => {
    const ratios = rounds.flatMap((r) => (r[i] === undefined || r[0] === undefined ? [] : [r[i] / r[0]]));
    return ratios.length ? ref * median(ratios) : Number.POSITIVE_INFINITY;
  });
}

/**
 * Times the candidates whose `ok[i]` holds (0 is the built-in choice, the reference) into `out`;
 * `challenger(ms)` names the provisional winner (0: none) for the confirming rounds, and it is the
 * winner only if `challenger` still prefers it to the built-in choice after them. `out.complete`
 * says whether every step ran.
 */
export async function timeCandidates(
  ok: boolean[],
  s: Candidates,
  budget: TuningBudget,
  challenger: (ms: number[]) => number,
  out: Timings,
): Promise<Timings> {
  /** One submit of `reps` runs (or a warm-up), as a budget step: its time (see Candidates), or CUT. */
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
      return timer ? s.done().then(() => timer.read()) : s.done().then(() => performance.now() - t0);
    }, expectedMs);
    if (done === CUT) return CUT;
    if (warm && s.site.synchronous) s.site.longestJitMs = Math.max(s.site.longestJitMs, t1 - t0);
    return timer ? t1 - t0 + done : done;
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
  // Candidates 4x slower than the best in a single run are not worth more of the budget (the
  // built-in choice, the reference, always is).
  const kept = first.flatMap((f, i) => (Number.isFinite(f) && (i === 0 || f <= 4 * best) ? [i] : []));
  // The same runs per submit for every candidate: a submit's own cost, in wall time, is then
  // shared alike (from one candidate's slow first run, fewer runs would each carry more of it).
  const reps = Math.min(
    MAX_REPS,
    Math.max(1, Math.round(SUBMIT_MS / Math.max(median(kept.map((i) => first[i])), 1e-3))),
  );
  const rounds: (number | undefined)[][] = [];
  const timeRound = async (which: number[]): Promise<boolean> => {
    const round: (number | undefined)[] = [];
    for (const i of rounds.length % 2 ? [...which].reverse() : which) {
      // The better of two submits: a stall (the scheduler's, on a busy machine) only adds time.
      for (let k = 0; k < 2; k++) {
        const ms = await run(i, false, reps, reps * first[i]);
        if (ms === CUT) return false;
        round[i] = Math.min(round[i] ?? Number.POSITIVE_INFINITY, ms / reps);
      }
    }
    rounds.push(round);
    out.ms = pairedMs(rounds, ok.length);
    return true;
  };
  for (let round = 0; round < ROUNDS; round++) if (!(await timeRound(kept))) return out;
  const w = challenger(out.ms);
  for (let round = 0; w !== 0 && round < CONFIRM_ROUNDS; round++) if (!(await timeRound([0, w]))) return out;
  out.complete = true;
  out.winner = w !== 0 && challenger([out.ms[0], out.ms[w]]) === 1 ? w : 0;
  return out;
}
