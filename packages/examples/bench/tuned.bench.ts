/**
 * Tuned vs built-in choices in one process (`pnpm bench --only=tuned`): the autotuner's stored
 * table ('cached': fill it first with `pnpm tune --fill`) against 'off', alternating run by run
 * (timeSideBySide's rounds), so that the load of a shared machine hits both alike. The matmul
 * bench's shapes (compute + read back), a training step of gru-train's first configuration, and
 * greedy generation with a read per token. Each run switches the mode first (setBackend on the
 * live device: no new device, no recompilation).
 * @module
 */
import { matmul, setBackend, type Tensor, tuning, uniform } from '@wgru/tensor';
import { WgruLm, wgruGenerator } from './generate.bench.js';
import { randomBatch, TRAIN_CONFIGS, wgruTrainer } from './gru-train.bench.js';
import { type Benchmark, fmt, timeSideBySide } from './lib.js';
import { MATMUL_SHAPES } from './matmul.bench.js';

type Mode = 'off' | 'cached';
const MODES: Mode[] = ['off', 'cached'];

/** `run` under each mode, alternating; the median ms of each. */
async function ab(run: () => Promise<void>, runs: number): Promise<Record<Mode, number>> {
  const fns = new Map(
    MODES.map((mode) => [
      mode,
      async () => {
        await setBackend('webgpu', { tuning: mode });
        await run();
      },
    ]),
  );
  const t = await timeSideBySide(fns, { warmup: 1, minRuns: runs, maxRuns: runs });
  return { off: t.get('off')?.ms ?? Number.NaN, cached: t.get('cached')?.ms ?? Number.NaN };
}

export const tunedBench: Benchmark = {
  name: 'tuned',
  description: "tuned ('cached', the stored table) vs built-in ('off') plans, alternating in one process",
  async run(opts) {
    const runs = Number(opts.args.runs ?? (opts.quick ? 5 : 11));
    await setBackend('webgpu', { tuning: 'cached' });
    const stored = Object.keys((await tuning()).table).length;
    const rows: string[][] = [];
    const row = (label: string, r: Record<Mode, number>, unit: string) => {
      opts.log(`    ${label}: off ${fmt(r.off, 3)}, cached ${fmt(r.cached, 3)} ${unit}`);
      rows.push([label, unit, fmt(r.off, 3), fmt(r.cached, 3), `${fmt(r.off / r.cached)}x`]);
    };
    for (const s of MATMUL_SHAPES) {
      opts.log(`  matmul ${s.label}`);
      const a: Tensor = uniform([s.m, s.k], -1, 1);
      const b: Tensor = uniform([s.k, s.n], -1, 1);
      const big = s.m * s.k * s.n >= 1024 ** 3;
      const r = await ab(
        async () => {
          const c = matmul(a, b);
          await c.data();
          c.dispose();
        },
        big ? Math.min(runs, 5) : runs,
      );
      row(`matmul ${s.label}`, r, 'ms');
      a.dispose();
      b.dispose();
    }
    const c = TRAIN_CONFIGS[0];
    for (const resetAfter of [true, false]) {
      opts.log(`  gru-train ${c.label} resetAfter ${resetAfter}`);
      const t = wgruTrainer(c, randomBatch(c, 12345), resetAfter);
      row(`training step ${c.label}, resetAfter ${resetAfter}`, await ab(t.step, runs), 'ms/step');
      t.dispose();
    }
    const tokens = Number(opts.args.tokens ?? 64);
    for (const resetAfter of [true, false]) {
      opts.log(`  generate resetAfter ${resetAfter}`);
      const model = new WgruLm(resetAfter);
      const g = wgruGenerator(model, 'read');
      const r = await ab(async () => void (await g.run(tokens)), runs);
      row(
        `token, read each (H=256), resetAfter ${resetAfter}`,
        { off: r.off / tokens, cached: r.cached / tokens },
        'ms/token',
      );
      model.dispose();
    }
    await setBackend('webgpu');
    return {
      title: "tuned ('cached') vs built-in ('off') plans, same process, alternating (lower is better)",
      columns: ['workload', 'unit', "'off'", "'cached'", 'off / cached'],
      rows,
      notes: [
        `${stored} shape classes in the stored table for this adapter (\`pnpm tune\` prints it).`,
        `Medians of ${runs} alternating runs each (5 for 1024³).`,
      ],
      data: rows,
    };
  },
};
