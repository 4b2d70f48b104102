/**
 * The matmul autotuner against exhaustive timing (`pnpm bench --only=tuning`): for each of the
 * matmul bench's shapes, every candidate plan (matmul-candidates.ts) is forced in turn and timed
 * (B reused; products one after another and a read of the last, as many per read as make ~25 ms,
 * so that a small product's time is its own and not the read's latency; rounds alternate between
 * candidates, median of 7-15);
 * then a fresh 'full' tuning of the shape's class (no budget, a throwaway cache file) says which
 * plan the tuner picks. The table gives the built-in plan, the tuner's choice and the best plan,
 * each with its exhaustively timed ms, and choice / best (the issue asks for within 10%).
 * `--sizes=256,512` / `--no-gru` / `--quick` as for the matmul bench. First (unless `--no-train`), a
 * training run from an empty table under 'off' and under 'full' (the default 1 s budget), step by
 * step (`--steps=10`), with the time tuning spent: the time bound, measured (with the synchronous
 * overrun past the deadline, if any, and the steps abandoned at it).
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matmul, setBackend, shutdown, type Tensor, tuning, uniform } from '@wgru/tensor';
import { type Geometry, matmulTuning } from '../../tensor/src/webgpu/kernels/matmul-plan.js';
import { shapeClass } from '../../tensor/src/webgpu/kernels/tuner.js';
import { type Benchmark, fmt, formatTable, timeSideBySide } from './lib.js';

const formatRows = (columns: string[], rows: string[][]) =>
  formatTable({ title: '', columns, rows, notes: [], data: null }).trim();
import { randomBatch, TRAIN_CONFIGS, wgruTrainer } from './gru-train.bench.js';
import { MATMUL_SHAPES } from './matmul.bench.js';

/** At most this many candidates per product (matmul-candidates.ts makes at most 8). */
const MAX_CANDIDATES = 8;

/**
 * `reps` products computed one after another and the last read back, with candidate `i` forced
 * (null: not). One product and its read (`reps` 1) is how the matmul bench times a product.
 */
const products =
  (a: Tensor, b: Tensor, i: number | null, reps = 1, seen?: (plan: string) => void) =>
  async () => {
    matmulTuning.candidate = i;
    matmulTuning.onPlan = seen ? (p) => seen(`${p.path} ${p.TM}x${p.TN}`) : null;
    try {
      for (let r = 1; r < reps; r++) matmul(a, b).dispose();
      const c = matmul(a, b);
      await c.data();
      c.dispose();
    } finally {
      matmulTuning.candidate = null;
      matmulTuning.onPlan = null;
    }
  };

/**
 * A training run (gru-train's first configuration) on a fresh backend with an empty table, under
 * 'off' and then 'full' with the default budget: each step's ms, and what tuning spent.
 */
async function trainingRun(dir: string, steps: number, log: (line: string) => void): Promise<string[][]> {
  const rows: string[][] = [];
  const c = TRAIN_CONFIGS[0];
  for (const mode of ['off', 'full'] as const) {
    process.env.WGRU_TUNING_CACHE = join(dir, `train-${mode}.json`);
    delete process.env.WGRU_TUNING_BUDGET_MS;
    shutdown(); // a fresh device: nothing compiled, nothing tuned
    await setBackend('webgpu', { tuning: mode });
    const t = wgruTrainer(c, randomBatch(c, 12345), true);
    const ms: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await t.step();
      ms.push(performance.now() - t0);
    }
    const state = await tuning();
    t.dispose();
    const later = [...ms.slice(3)].sort((x, y) => x - y)[Math.floor((ms.length - 3) / 2)];
    log(`    training under '${mode}': ${ms.map((x) => x.toFixed(0)).join(', ')} ms per step`);
    rows.push([
      `${c.label}, '${mode}'`,
      ms
        .slice(0, 3)
        .map((x) => x.toFixed(0))
        .join(', '),
      fmt(later, 0),
      fmt(state.spentMs, 0),
      fmt(state.overrunMs, 0),
      String(state.abandoned),
      fmt(state.threadMs, 0),
      String(Object.keys(state.table).length),
      String(state.log.length),
    ]);
  }
  return rows;
}

export const tuningBench: Benchmark = {
  name: 'tuning',
  description: "the matmul autotuner's choice vs every candidate timed exhaustively, per shape",
  async run(opts) {
    const sizes = opts.args.sizes?.split(',').map(Number) ?? (opts.quick ? [256, 512] : [256, 512, 1024]);
    const shapes = MATMUL_SHAPES.filter((s) =>
      s.label.includes(' @ ') && s.m === s.k && s.k === s.n ? sizes.includes(s.m) : opts.args['no-gru'] !== 'true',
    );
    const dir = mkdtempSync(join(tmpdir(), 'wgru-tuning-bench-'));
    const saved = { cache: process.env.WGRU_TUNING_CACHE, budget: process.env.WGRU_TUNING_BUDGET_MS };
    const rows: string[][] = [];
    const data: unknown[] = [];
    let tuningMs = 0;
    let train: string[][] = [];
    try {
      if (opts.args['no-train'] !== 'true') {
        train = await trainingRun(dir, Number(opts.args.steps ?? 10), opts.log);
        shutdown(); // the shapes below start from a fresh device and an empty table
      }
      for (const s of shapes) {
        opts.log(`  ${s.label}`);
        await setBackend('webgpu', { tuning: 'off' });
        const a = uniform([s.m, s.k], -1, 1);
        const b = uniform([s.k, s.n], -1, 1);
        // B used once already: every product below is of the steady state's class ('B kept').
        await products(a, b, null)();
        // Which plan each forced index runs (indices past the candidates' count wrap around to 0).
        const names: string[] = [];
        for (let i = 0; i < MAX_CANDIDATES; i++) {
          let name = '';
          await products(a, b, i, 1, (p) => {
            name = p;
          })();
          if (i > 0 && name === names[0]) break;
          names.push(name);
        }
        let builtIn = '';
        await products(a, b, null, 1, (p) => {
          builtIn = p;
        })();
        // Enough products per read that a run takes ~25 ms: a small product's own time is then
        // measured, as in a training step, not the read's latency (~1.4 ms here, and noisy).
        const t0 = performance.now();
        await products(a, b, null, 4)();
        const reps = Math.min(64, Math.max(1, Math.ceil(25 / ((performance.now() - t0) / 4))));
        const t = await timeSideBySide(
          new Map(names.map((name, i) => [name, products(a, b, i, reps)])),
          opts.quick
            ? { warmup: 1, minRuns: 3, maxRuns: 5, budgetMs: 2000 }
            : { warmup: 1, minRuns: 7, maxRuns: 15, budgetMs: 6000 },
        );
        const ms = (name: string) => (t.get(name)?.ms ?? Number.NaN) / reps;
        const best = names.reduce((x, y) => (ms(y) < ms(x) ? y : x));
        // A fresh tuning of the class, without budget, into a throwaway cache.
        process.env.WGRU_TUNING_CACHE = join(dir, `${s.m}x${s.k}x${s.n}.json`);
        process.env.WGRU_TUNING_BUDGET_MS = String(10 * 60 * 1000);
        await setBackend('webgpu', { tuning: 'full' });
        const before = (await tuning()).spentMs;
        for (let r = 0; r < 3; r++) {
          await products(a, b, null)();
          await tuning();
        }
        const state = await tuning();
        tuningMs += state.spentMs - before;
        const rowMajor = { s0: 0, s1: 1 };
        const key = shapeClass({ T: 'f32', M: s.m, K: s.k, N: s.n, a: rowMajor, b: rowMajor } as Geometry, true);
        const c = state.table[key];
        for (const l of state.log.filter((e) => e.shapeClass === key))
          opts.log(
            `    tuner timed ${key}${l.complete ? '' : ' (cut short)'}: ` +
              l.candidates
                .map(
                  (x) => `${x.plan} ${fmt(x.ms, 3)} (compile ${fmt(x.compileMs, 0)}, warm-up ${fmt(x.warmupMs, 0)} ms)`,
                )
                .join(', '),
          );
        const choice = c && 'path' in c ? `${c.path} ${c.TM}x${c.TN}` : builtIn;
        for (const v of [a, b]) v.dispose();
        const ratio = ms(choice) / ms(best);
        rows.push([
          s.label,
          `${builtIn} ${fmt(ms(builtIn), 3)}`,
          `${choice} ${fmt(ms(choice), 3)}`,
          `${best} ${fmt(ms(best), 3)}`,
          fmt(ratio, 2),
          fmt(ms(builtIn) / ms(choice), 2),
        ]);
        data.push({ shape: s.label, key, builtIn, choice, best, ms: Object.fromEntries(t), tuner: c ?? null });
        opts.log(`    ${names.map((n) => `${n} ${fmt(ms(n), 3)}`).join(', ')} (${reps} per read); tuner: ${choice}`);
      }
    } finally {
      for (const [k, v] of [
        ['WGRU_TUNING_CACHE', saved.cache],
        ['WGRU_TUNING_BUDGET_MS', saved.budget],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      await setBackend('webgpu');
      rmSync(dir, { recursive: true, force: true });
    }
    return {
      title: 'matmul autotuner: its choice vs the best candidate, timed exhaustively (ms per product)',
      columns: [
        'product',
        'built-in plan, ms',
        "tuner's choice, ms",
        'best candidate, ms',
        'choice / best',
        'built-in / choice',
      ],
      rows,
      notes: [
        'Each candidate forced in turn, in alternating rounds: products one after another, then a read of the last (B reused:',
        'the class "B kept"); as many per read as make ~25 ms, so that small products are not timed as the read\'s latency.',
        "The tuner's choice comes from a fresh 'full' tuning of the class (no budget) on a second device.",
        `Tuning time for these classes: ${(tuningMs / 1000).toFixed(1)} s.`,
        ...(train.length
          ? [
              '',
              "A training run from an empty table (fresh device), 'off' then 'full' with the default budget:",
              formatRows(
                [
                  'run',
                  'steps 1-3 ms',
                  'later steps ms (median)',
                  'tuning ms',
                  'past deadline ms',
                  'abandoned',
                  'on main thread ms',
                  'stored',
                  'timed',
                ],
                train,
              ),
            ]
          : []),
      ],
      data,
    };
  },
};
