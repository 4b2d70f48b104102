/**
 * `pnpm bench`: runs wgru's benchmarks side by side with TensorFlow.js on the same adapter and
 * prints one table per benchmark.
 *
 *   pnpm bench                     all benchmarks
 *   pnpm bench --only=matmul       some of them (comma-separated names)
 *   pnpm bench --quick             fewer sizes and runs (a smoke run)
 *   pnpm bench --json              the raw figures as JSON on stdout instead of tables
 *   pnpm bench --no-tfjs           without TensorFlow.js
 *   pnpm bench --only=matmul --sizes=512,1024 --no-gru   matmul at chosen square sizes only
 *   pnpm bench --only=matmul --backends=webgpu           matmul on WebGPU only
 *   pnpm bench --only=soak --minutes=10 --every=30      memory over a long run (only when asked for)
 *   pnpm bench --only=tuning       the matmul autotuner's choice vs exhaustive timing (only when asked for)
 *   pnpm bench --only=tuned        the stored tuning table vs the built-in plans, alternating (only when asked for)
 *
 * A benchmark is a `Benchmark` (see lib.ts) in its own `*.bench.ts` file, listed below.
 * @module
 */
import { backend, shutdown } from '@wgru/tensor';
import { type Benchmark, type BenchOptions, type BenchResult, formatTable } from './lib.js';
import { generateBench } from './generate.bench.js';
import { gruScoreBench } from './gru-score.bench.js';
import { gruTrainBench } from './gru-train.bench.js';
import { matmulBench } from './matmul.bench.js';
import { soakBench } from './soak.bench.js';
import { tunedBench } from './tuned.bench.js';
import { tuningBench } from './tuning.bench.js';
import { cpuBench } from './cpu.bench.js';

const benchmarks: Benchmark[] = [
  matmulBench,
  gruTrainBench,
  generateBench,
  gruScoreBench,
  cpuBench,
  tuningBench,
  tunedBench,
  soakBench,
];
// soak, tuning and tuned run only when asked for (--only=...): ten minutes; minutes of exhaustive
// timing; a comparison that needs a filled table.
const onRequestOnly = new Set(['soak', 'tuning', 'tuned']);

function parseArgs(argv: string[]): { only: string[] | null; json: boolean; opts: BenchOptions } {
  const args: Record<string, string> = {};
  for (const a of argv) {
    if (a === '--') continue;
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m)
      throw new Error(
        `bench: unexpected argument '${a}' (try --only=NAME, --quick, --json, --no-tfjs, --sizes=256,512, --no-gru)`,
      );
    args[m[1] as string] = m[2] ?? 'true';
  }
  const only = args.only ? args.only.split(',') : null;
  for (const name of only ?? []) {
    if (!benchmarks.some((b) => b.name === name))
      throw new Error(`bench: no benchmark named '${name}' (have: ${benchmarks.map((b) => b.name).join(', ')})`);
  }
  return {
    only,
    json: args.json === 'true',
    opts: {
      quick: args.quick === 'true',
      noTfjs: args['no-tfjs'] === 'true',
      args,
      log: (line) => process.stderr.write(`${line}\n`),
    },
  };
}

const { only, json, opts } = parseArgs(process.argv.slice(2));
const info = backend();
const adapter = info.adapter
  ? [info.adapter.vendor, info.adapter.architecture, info.adapter.description].filter(Boolean).join(' / ')
  : 'none';
const results: BenchResult[] = [];
const tableData = ({ title, data }: BenchResult) => ({ title, data });
try {
  for (const b of benchmarks) {
    if (only ? !only.includes(b.name) : onRequestOnly.has(b.name)) continue;
    opts.log(`bench: ${b.name}: ${b.description}`);
    const r = await b.run(opts);
    results.push(r);
    if (!json) process.stdout.write(`\n${formatTable(r)}\n`);
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ adapter, backend: info.name, results: results.map(tableData) }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`\nwgru backend: ${info.name} (${adapter}); node ${process.version}\n`);
  }
} finally {
  // A live Dawn device keeps the process alive: release it and leave promptly.
  shutdown();
}
process.exit(0);
