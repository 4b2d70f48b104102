/**
 * Where there is no GPU: wgru's wasm backend beside PyTorch on the CPU and TensorFlow.js's wasm
 * backend (XNNPACK), on the same work in the same run. matmul 1024^3 in GFLOP/s (also as a share
 * of this CPU's peak), the GRU language model's training step for both configs of `gru-train`
 * (ms/step, tokens/s), and greedy generation at H = 256 reading each token on the host (ms/token).
 * The wasm sgemm is also timed on its own, on one thread and on all cores.
 *
 * PyTorch runs `pytorch_bench.py` with /usr/bin/python3 (Debian's python3-torch, installed by
 * scripts/install-pytorch.sh), with one thread and with all cores; the faster is reported. Where
 * `import torch` fails its column is left out with a note.
 *
 *   pnpm bench --only=cpu [--quick]
 * @module
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { matmul, setBackend, uniform } from '@wgru/tensor';
import { createSgemm } from '../../tensor/src/wasm/matmul/index.js';
import { createThreadPool } from '../../tensor/src/wasm/threads/index.js';
import { tfGenerator, WgruLm, wgruGenerator } from './generate.bench.js';
import { randomBatch, TRAIN_CONFIGS, tfTrainer, wgruTrainer } from './gru-train.bench.js';
import { type Benchmark, type BenchOptions, fmt, loadTfjs, type Tf, timeSideBySide } from './lib.js';

/**
 * This CPU's float32 peak, 2 cores with 256-bit FMA (the figure). The CPU also has AVX-512,
 * which PyTorch's OpenBLAS uses (it reaches over 100% of this figure) and WebAssembly cannot.
 */
const PEAK_GFLOPS = 234;
/** What 128-bit SIMD without FMA reaches on one core here (measured: ~57 GFLOP/s, registers only). */
const SIMD128_CORE_GFLOPS = 58;
const N = 1024;
/** Tokens per timed run of generation, for wgru, tfjs and PyTorch alike. */
const TOKENS = 100;

/**
 * Every implementation is timed the same way, PyTorch included (pytorch_bench.py gets these counts):
 * warm-up runs, then timed runs back to back, with no collection or pause between them; the median
 * is reported. Warm-up is at least WARMUP_STEPS steps (TOKEN_WARMUP runs of TOKENS tokens) and at
 * least WARMUP_MS of them. Training: then at least `trainSteps` steps and at least TIMED_MS of them
 * (at most MAX_STEPS), so that one slow moment of a shared machine moves a median of dozens of
 * steps, not of three; generation: then 5 runs of TOKENS tokens. JavaScript needs the longer
 * warm-up, as V8 optimises the hot functions on background threads as they run (wgru's step at
 * B=32 took 63-66 ms over its first 18 steps and 39-40 ms once warm; a token 0.088 ms after 1,000
 * warm-up tokens and 0.057-0.060 ms after 3,000); PyTorch's figures barely move.
 */
const trainSteps = (opts: BenchOptions) => (opts.quick ? 3 : 5);
const WARMUP_STEPS = 8;
const TOKEN_WARMUP = 30;
const WARMUP_MS = 3000;
const TIMED_MS = 2000;
/** pytorch_bench.py's MAX_RUNS. */
const MAX_STEPS = 100;

interface TorchFigures {
  matmul1024_gflops: number;
  matmul1024_gflops_per_cpu_second: number;
  train_ms: number[];
  token_ms: number;
}

/** PyTorch's figures, the faster of one thread and all cores, or the reason there are none. */
function runPytorch(opts: BenchOptions): { best: TorchFigures; version: string; threads: string } | string {
  const script = fileURLToPath(new URL('./pytorch_bench.py', import.meta.url));
  const args = {
    configs: TRAIN_CONFIGS.map((c) => [c.B, c.T, c.I, c.H, c.V]),
    tokens: TOKENS,
    steps: trainSteps(opts),
    warmup: WARMUP_STEPS,
    tokenWarmup: TOKEN_WARMUP,
    warmupMs: WARMUP_MS,
    timedMs: TIMED_MS,
  };
  const r = spawnSync('/usr/bin/python3', [script, JSON.stringify(args)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0)
    return `PyTorch not run (${(r.error?.message ?? r.stderr.trim().split('\n').pop()) || 'no python3'})`;
  const out = JSON.parse(r.stdout) as Record<string, TorchFigures | string | number>;
  const runs = Object.entries(out).filter(([k]) => k.startsWith('threads')) as [string, TorchFigures][];
  const pick = <T>(f: (x: TorchFigures) => T, better: (a: T, b: T) => boolean) =>
    runs.map(([, x]) => f(x)).reduce((a, b) => (better(b, a) ? b : a));
  const best: TorchFigures = {
    matmul1024_gflops: pick(
      (x) => x.matmul1024_gflops,
      (a, b) => a > b,
    ),
    matmul1024_gflops_per_cpu_second: pick(
      (x) => x.matmul1024_gflops_per_cpu_second,
      (a, b) => a > b,
    ),
    train_ms: TRAIN_CONFIGS.map((_, i) =>
      pick(
        (x) => x.train_ms[i],
        (a, b) => a < b,
      ),
    ),
    token_ms: pick(
      (x) => x.token_ms,
      (a, b) => a < b,
    ),
  };
  const threads = runs
    .map(
      ([k, x]) =>
        `${k}: ${fmt(x.matmul1024_gflops, 1)} GFLOP/s, ${x.train_ms.map((t) => fmt(t, 0)).join('/')} ms/step, ${fmt(x.token_ms, 3)} ms/token`,
    )
    .join('; ');
  return { best, version: String(out.torch), threads };
}

/**
 * tfjs's wasm backend has no UnsortedSegmentSum, the gradient of the embedding's gather: this one,
 * in JavaScript over the backend's data, stands in (a [V, I] sum per step, small beside the GRU).
 */
function registerSegmentSum(tf: Tf): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as Record<string, { dataId: object; shape: number[] }>;
      const be = backend as unknown as {
        readSync(id: object): Float32Array | Int32Array;
        makeOutput(shape: number[], dtype: string, offset?: number, values?: Float32Array): unknown;
      };
      const n = (attrs as { numSegments: number }).numSegments;
      const xs = be.readSync(x.dataId);
      const ids = be.readSync(segmentIds.dataId);
      const row = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = new Float32Array(n * row);
      for (let i = 0; i < ids.length; i++) {
        const s = ids[i];
        if (s >= 0 && s < n) for (let j = 0; j < row; j++) out[s * row + j] += xs[i * row + j];
      }
      return be.makeOutput([n, ...x.shape.slice(1)], 'float32', undefined, out) as ReturnType<
        Parameters<Tf['registerKernel']>[0]['kernelFunc']
      >;
    },
  });
}

/** TensorFlow.js on its wasm backend, or null with the reason noted. */
async function tfWasm(opts: BenchOptions, notes: string[]): Promise<Tf | null> {
  const tf = opts.noTfjs ? null : await loadTfjs(opts.log);
  if (!tf) return null;
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    registerSegmentSum(tf);
    notes.push("tfjs wasm lacks UnsortedSegmentSum (the embedding's gradient): a JavaScript one stands in.");
    if ((await tf.setBackend('wasm')) && tf.getBackend() === 'wasm') return tf;
  } catch (e) {
    notes.push(`TensorFlow.js wasm backend did not start (${(e as Error).message}).`);
  }
  return null;
}

/**
 * The wasm sgemm alone on N^3, on one thread and on a pool of all cores: median wall ms of each, and
 * GFLOP/s per CPU-second (flops / the process's CPU time, workers included): what the kernel does
 * with the time it actually got, on a machine whose cores others share.
 */
async function sgemmAlone(opts: BenchOptions): Promise<{ ms: [number, number]; perCpuSecond: [number, number] }> {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true });
  const f = new Float32Array(memory.buffer);
  const [a, b, c, scratch] = [64, 64 + 4 * N * N, 64 + 8 * N * N, 64 + 12 * N * N];
  for (let i = 0; i < 2 * N * N; i++) f[16 + i] = Math.random() * 2 - 1;
  const pool = await createThreadPool(memory);
  const kernels = [createSgemm(memory, () => scratch), createSgemm(memory, () => scratch, pool)];
  const cpu = [0, 0];
  const calls = [0, 0];
  const fns = new Map(
    kernels.map((s, i) => [
      String(i),
      async () => {
        const u = process.cpuUsage();
        s(N, N, N, a, N, 1, b, N, 1, c, 0);
        const d = process.cpuUsage(u);
        cpu[i] = cpu[i] + (d.user + d.system) / 1000;
        calls[i] = calls[i] + 1;
      },
    ]),
  );
  const t = await timeSideBySide(fns, { warmup: 2, minRuns: opts.quick ? 3 : 7, maxRuns: 15, budgetMs: 2000 });
  await pool?.close();
  const per = (i: number) => (2 * N ** 3 * calls[i]) / cpu[i] / 1e6;
  return { ms: [t.get('0')?.ms as number, t.get('1')?.ms as number], perCpuSecond: [per(0), per(1)] };
}

export const cpuBench: Benchmark = {
  name: 'cpu',
  description: 'no GPU: wgru wasm vs PyTorch CPU vs TensorFlow.js wasm (matmul 1024^3, GRU training, token latency)',
  async run(opts) {
    const notes: string[] = [];
    const rows: string[][] = [];
    const cores = cpus().length;
    let wasm = true;
    try {
      await setBackend('wasm' as Parameters<typeof setBackend>[0]);
    } catch (e) {
      wasm = false;
      notes.push(`wgru wasm backend not available (${(e as Error).message}): its rows are the sgemm alone.`);
    }
    const tf = await tfWasm(opts, notes);
    opts.log('  PyTorch (pytorch_bench.py)');
    const torch = runPytorch(opts);
    if (typeof torch === 'string') notes.push(torch);
    const pt = typeof torch === 'string' ? null : torch.best;

    // matmul N^3.
    opts.log(`  matmul ${N}^3`);
    const gf = (ms: number | undefined) => (ms ? (2 * N ** 3) / ms / 1e6 : null);
    const alone = await sgemmAlone(opts);
    const fns = new Map<string, () => Promise<void>>();
    const A = wasm ? uniform([N, N], -1, 1) : null;
    const B = wasm ? uniform([N, N], -1, 1) : null;
    if (A && B) fns.set('wgru', async () => void (await matmul(A, B).data()));
    const ta = tf?.randomUniform([N, N], -1, 1);
    const tb = tf?.randomUniform([N, N], -1, 1);
    if (tf && ta && tb) fns.set('tfjs', async () => void (await tf.matMul(ta, tb).data()));
    const mm = await timeSideBySide(fns, { warmup: 2, minRuns: opts.quick ? 3 : 5, maxRuns: 9, budgetMs: 2000 });
    const share = (g: number | null) => (g ? `${fmt(g, 1)} (${fmt((100 * g) / PEAK_GFLOPS, 0)}% of peak)` : '-');
    rows.push([
      'matmul 1024^3, GFLOP/s',
      share(gf(mm.get('wgru')?.ms)),
      share(pt?.matmul1024_gflops ?? null),
      share(gf(mm.get('tfjs')?.ms)),
      '-',
    ]);
    const [one, all] = alone.ms;
    const [cpuOne, cpuAll] = alone.perCpuSecond;
    rows.push(['  wasm sgemm alone, 1 thread / all cores', `${fmt(gf(one), 1)} / ${fmt(gf(all), 1)}`, '', '', '']);
    const ptCpu = pt ? fmt(pt.matmul1024_gflops_per_cpu_second, 1) : '';
    rows.push(['  GFLOP/s per CPU-second (busy machine)', `${fmt(cpuOne, 1)} / ${fmt(cpuAll, 1)}`, ptCpu, '', '']);
    A?.dispose();
    B?.dispose();
    ta?.dispose();
    tb?.dispose();

    // GRU training, both configs.
    for (const [i, c] of TRAIN_CONFIGS.entries()) {
      opts.log(`  gru-train ${c.label}`);
      const batch = randomBatch(c, 12345 + i);
      const entries = new Map<string, { step: () => Promise<void>; dispose: () => void }>();
      if (wasm) entries.set('wgru', wgruTrainer(c, batch, true));
      if (tf) entries.set('tfjs', tfTrainer(tf, c, batch));
      const steps = trainSteps(opts);
      const t = await timeSideBySide(new Map([...entries].map(([k, v]) => [k, v.step])), {
        warmup: WARMUP_STEPS,
        warmupMs: WARMUP_MS,
        minRuns: steps,
        maxRuns: MAX_STEPS,
        budgetMs: TIMED_MS,
        settle: false,
      });
      for (const v of entries.values()) v.dispose();
      const w = t.get('wgru')?.ms;
      const tt = t.get('tfjs')?.ms;
      const p = pt?.train_ms[i];
      const tokens = c.B * c.T;
      rows.push([
        `GRU train ${c.label}, ms/step`,
        fmt(w, 1),
        fmt(p, 1),
        fmt(tt, 1),
        `wasm/PyTorch ${w && p ? fmt(w / p, 2) : '-'}x; wasm tok/s ÷ tfjs ${w && tt ? fmt(tokens / w / (tokens / tt), 1) : '-'}x`,
      ]);
    }

    // Token latency, H = 256, reading each token.
    opts.log('  generate, read each token');
    const gens = new Map<string, { run: (n: number) => Promise<number[]>; dispose: () => void }>();
    const lm = wasm ? new WgruLm(true) : null;
    if (lm) gens.set('wgru', wgruGenerator(lm, 'read'));
    if (tf) gens.set('tfjs', tfGenerator(tf, 'read'));
    const g = await timeSideBySide(new Map([...gens].map(([k, v]) => [k, async () => void (await v.run(TOKENS))])), {
      warmup: TOKEN_WARMUP,
      warmupMs: WARMUP_MS,
      minRuns: 5,
      maxRuns: 5,
      budgetMs: 0,
      settle: false,
    });
    for (const v of gens.values()) v.dispose();
    lm?.dispose();
    const wt = (g.get('wgru')?.ms ?? Number.NaN) / TOKENS;
    const tt = (g.get('tfjs')?.ms ?? Number.NaN) / TOKENS;
    rows.push([
      'token H=256, read each, ms/token',
      fmt(wt, 3),
      fmt(pt?.token_ms, 3),
      fmt(tt, 3),
      `wasm/PyTorch ${pt ? fmt(wt / pt.token_ms, 2) : '-'}x`,
    ]);

    notes.push(
      `Peak: ${PEAK_GFLOPS} GFLOP/s (${cores} cores, 256-bit FMA; where the CPU has AVX-512, as PyTorch's OpenBLAS uses, more); 128-bit SIMD without FMA reaches ~${SIMD128_CORE_GFLOPS} GFLOP/s a core, ${SIMD128_CORE_GFLOPS * cores} on all.`,
      typeof torch === 'string' ? '' : `PyTorch ${torch.version}, the faster of: ${torch.threads}.`,
      'wgru wasm: resetAfter true (as PyTorch); TensorFlow.js: resetAfter false (its only placement).',
    );
    return {
      title: 'no GPU: wgru wasm vs PyTorch CPU vs TensorFlow.js wasm',
      columns: ['work', 'wgru wasm', 'PyTorch CPU', 'tfjs wasm', 'ratios'],
      rows,
      notes: notes.filter(Boolean),
      data: { rows, torch },
    };
  },
};
