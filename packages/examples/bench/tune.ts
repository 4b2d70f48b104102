/**
 * `pnpm tune`: the WebGPU autotuner's table for the current adapter (docs/tuning.md).
 *
 *   pnpm tune            prints the stored table (shape class, fastest choice, its time and the
 *                        built-in choice's, per run: matmul plans, elementwise workgroup sizes,
 *                        reduction strategies)
 *   pnpm tune --fill     first tunes, without the 1 s budget, every shape class that the examples
 *                        and `pnpm bench` meet (the matmul bench's shapes, a training step of each
 *                        gru-train configuration, token generation), with a progress line each,
 *                        and stores the table; later runs use it (tuning 'cached', the default)
 *   pnpm tune --json     the table as JSON on stdout
 * @module
 */
import { matmul, setBackend, shutdown, type TuningState, tuning, uniform } from '@wgru/tensor';
import { randomBatch, TRAIN_CONFIGS, wgruTrainer } from './gru-train.bench.js';
import { WgruLm, wgruGenerator } from './generate.bench.js';
import { MATMUL_SHAPES } from './matmul.bench.js';

const args = new Set(process.argv.slice(2).filter((a) => a !== '--'));
for (const a of args)
  if (a !== '--fill' && a !== '--json') throw new Error(`tune: unexpected argument '${a}' (try --fill, --json)`);
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Runs each workload under 'full' tuning with no budget to speak of, waiting for its tunings. */
async function fill(): Promise<void> {
  process.env.WGRU_TUNING_BUDGET_MS ??= String(60 * 60 * 1000);
  await setBackend('webgpu', { tuning: 'full' });
  const workloads: [string, () => Promise<void>][] = [];
  for (const s of MATMUL_SHAPES)
    workloads.push([
      `matmul ${s.label}`,
      async () => {
        const a = uniform([s.m, s.k], -1, 1);
        const b = uniform([s.k, s.n], -1, 1);
        // Three products with one B: the first packs nothing, the later ones keep B packed.
        for (let r = 0; r < 3; r++) {
          await matmul(a, b).data();
          await tuning();
        }
        a.dispose();
        b.dispose();
      },
    ]);
  for (const c of TRAIN_CONFIGS)
    for (const resetAfter of [true, false])
      workloads.push([
        `gru-train ${c.label} resetAfter ${resetAfter}`,
        async () => {
          const t = wgruTrainer(c, randomBatch(c, 12345), resetAfter);
          for (let r = 0; r < 2; r++) {
            await t.step();
            await tuning();
          }
          t.dispose();
        },
      ]);
  workloads.push([
    'generate',
    async () => {
      const model = new WgruLm(true);
      for (const loop of ['read', 'device', 'fused-w'] as const) {
        await wgruGenerator(model, loop).run(4);
        await tuning();
      }
      model.dispose();
    },
  ]);
  for (const [i, [name, run]] of workloads.entries()) {
    const t0 = performance.now();
    await run();
    const t = await tuning();
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    log(`[${i + 1}/${workloads.length}] ${name}: ${s} s; ${Object.keys(t.table).length} classes tuned so far`);
  }
}

function print(t: TuningState): void {
  const rows = Object.entries(t.table)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, c]) => {
      const speedup = c.heuristicMs / c.ms;
      return [
        k,
        'path' in c ? `${c.path} ${c.TM}x${c.TN}` : c.choice,
        c.ms.toFixed(3),
        c.heuristicMs.toFixed(3),
        `${speedup.toFixed(2)}x`,
      ];
    });
  const head = [
    'shape class (matmul: dtype|B|layouts|M x K x N, rounded up)',
    'fastest choice',
    'ms',
    'built-in ms',
    'speedup',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i])).join('  ');
  process.stdout.write(`adapter: ${t.adapter}\nstored in: ${t.store}\n${line(head)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  if (rows.length === 0) process.stdout.write('(no classes tuned yet: `pnpm tune --fill`)\n');
  if (t.spentMs > 0)
    process.stdout.write(
      `tuning this run: ${(t.spentMs / 1000).toFixed(1)} s (${t.threadMs.toFixed(0)} ms on the main thread; ` +
        `${t.abandoned} steps abandoned at the deadline, ${t.overrunMs.toFixed(0)} ms past it)\n`,
    );
}

try {
  if (args.has('--fill')) await fill();
  else await setBackend('webgpu', { tuning: 'cached' });
  const t = await tuning();
  if (args.has('--json')) process.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
  else print(t);
} finally {
  shutdown();
  process.exit(process.exitCode ?? 0);
}
