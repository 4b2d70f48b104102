/**
 * Matmul GFLOP/s: wgru on WebGPU and on its CPU backend, TensorFlow.js on WebGPU (the same Dawn
 * adapter, same process) and on its CPU backend, and a plain JavaScript i-k-j loop for scale.
 * Square sizes 256/512/1024, then the GRU's shapes (batch-1 generation, the recurrent h @ U, the
 * input projection of a whole sequence). Every timed run includes reading the result back, so the
 * device work is really waited for.
 * @module
 */
import { engineStats, matmul, setBackend, type Tensor, uniform } from '@wgru/tensor';
import {
  type Benchmark,
  type BenchOptions,
  fmt,
  loadTfjs,
  type Tf,
  type TimeOptions,
  tfBackend,
  timeSideBySide,
} from './lib.js';

interface Shape {
  label: string;
  m: number;
  k: number;
  n: number;
}

type Impl = 'wgru-webgpu' | 'tfjs-webgpu' | 'wgru-cpu' | 'tfjs-cpu' | 'js-loop';
const IMPLS: Impl[] = ['wgru-webgpu', 'tfjs-webgpu', 'wgru-cpu', 'tfjs-cpu', 'js-loop'];

/** Square sizes timed by default (`--sizes=256,512` to choose). */
const SQUARES = [256, 512, 1024];

/** The GRU's shapes: batch-1 generation, the recurrent h @ U, the input projection of a whole sequence. */
const GRU_SHAPES: Shape[] = [
  { label: 'gen 1x256 @ 256x768', m: 1, k: 256, n: 768 },
  { label: 'h@U 32x128 @ 128x384', m: 32, k: 128, n: 384 },
  { label: 'h@U 64x256 @ 256x768', m: 64, k: 256, n: 768 },
  { label: 'x@W 2048x64 @ 64x384', m: 2048, k: 64, n: 384 },
];

const square = (s: number): Shape => ({ label: `${s}x${s} @ ${s}x${s}`, m: s, k: s, n: s });

/** Every shape of a full run (the autotuner's `pnpm tune --fill` tunes these). */
export const MATMUL_SHAPES: Shape[] = [...SQUARES.map(square), ...GRU_SHAPES];

/** The shapes timed: squares (`--sizes=256,512` to choose), then the GRU's (unless `--no-gru`). */
function shapes(opts: BenchOptions): Shape[] {
  const sizes = opts.args.sizes ? opts.args.sizes.split(',').map(Number) : opts.quick ? [256, 512] : SQUARES;
  const squares = sizes.map(square);
  return opts.args['no-gru'] === 'true' ? squares : [...squares, ...GRU_SHAPES];
}

/** The i-k-j loop over Float32Array rows: the simplest fast JavaScript matmul. */
function jsMatmul(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const co = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const bo = p * n;
      for (let j = 0; j < n; j++) c[co + j] = c[co + j] + av * b[bo + j];
    }
  }
}

const randomArray = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);

/** Fewer runs for the slow (CPU) implementations at big sizes; a quick run times little. */
function budget(s: Shape, opts: BenchOptions, slow: boolean): TimeOptions {
  if (opts.quick) return { warmup: 1, minRuns: 3, maxRuns: 5, budgetMs: 300 };
  const big = s.m * s.k * s.n >= 512 * 512 * 512;
  return slow && big
    ? { warmup: 1, minRuns: 3, maxRuns: 5, budgetMs: 3000 }
    : { warmup: 2, minRuns: 5, maxRuns: 25, budgetMs: 2500 };
}

/** A timed wgru matmul on the active backend: compute, read back, dispose. */
function wgruRun(a: Tensor, b: Tensor, counts?: { dispatches: number }): () => Promise<void> {
  return async () => {
    const before = engineStats().dispatches;
    const c = matmul(a, b);
    await c.data();
    if (counts) counts.dispatches = engineStats().dispatches - before;
    c.dispose();
  };
}

function tfRun(tf: Tf, a: TfTensor, b: TfTensor): () => Promise<void> {
  return async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  };
}

type TfTensor = ReturnType<Tf['tensor2d']>;

export const matmulBench: Benchmark = {
  name: 'matmul',
  description: 'float32 matmul GFLOP/s, wgru vs TensorFlow.js on the same adapter',
  async run(opts) {
    const tf = opts.noTfjs ? null : await loadTfjs(opts.log);
    const list = shapes(opts);
    // Median ms per implementation and shape.
    const ms = new Map<Impl, (number | null)[]>(IMPLS.map((i) => [i, list.map(() => null)]));
    const record = (impl: Impl, i: number, t: number) => {
      (ms.get(impl) as (number | null)[])[i] = t;
    };
    const dispatches: number[] = [];
    const notes: string[] = [];

    // WebGPU: wgru and TensorFlow.js side by side on each shape.
    await setBackend('webgpu');
    const tfGpu = tf !== null && (await tfBackend(tf, 'webgpu'));
    if (tf && !tfGpu) notes.push('TensorFlow.js WebGPU backend did not start.');
    for (const [i, s] of list.entries()) {
      opts.log(`  webgpu ${s.label}`);
      const a = uniform([s.m, s.k], -1, 1);
      const b = uniform([s.k, s.n], -1, 1);
      const counts = { dispatches: 0 };
      const fns = new Map<Impl, () => Promise<void>>([['wgru-webgpu', wgruRun(a, b, counts)]]);
      const ta = tfGpu ? (tf as Tf).randomUniform([s.m, s.k], -1, 1) : null;
      const tb = tfGpu ? (tf as Tf).randomUniform([s.k, s.n], -1, 1) : null;
      if (ta && tb) fns.set('tfjs-webgpu', tfRun(tf as Tf, ta as TfTensor, tb as TfTensor));
      const t = await timeSideBySide(fns, budget(s, opts, false));
      for (const [impl, r] of t) record(impl, i, r.ms);
      dispatches[i] = counts.dispatches;
      a.dispose();
      b.dispose();
      ta?.dispose();
      tb?.dispose();
    }

    // CPU: wgru's CPU backend, TensorFlow.js's, and a plain loop (not with --backends=webgpu).
    const cpuToo = opts.args.backends !== 'webgpu';
    if (cpuToo) await setBackend('cpu');
    const tfCpu = cpuToo && tf !== null && (await tfBackend(tf, 'cpu'));
    for (const [i, s] of cpuToo ? list.entries() : []) {
      opts.log(`  cpu ${s.label}`);
      const a = uniform([s.m, s.k], -1, 1);
      const b = uniform([s.k, s.n], -1, 1);
      const ja = randomArray(s.m * s.k);
      const jb = randomArray(s.k * s.n);
      const jc = new Float32Array(s.m * s.n);
      const fns = new Map<Impl, () => Promise<void>>([
        ['wgru-cpu', wgruRun(a, b)],
        ['js-loop', async () => jsMatmul(ja, jb, jc, s.m, s.k, s.n)],
      ]);
      const ta = tfCpu ? (tf as Tf).randomUniform([s.m, s.k], -1, 1) : null;
      const tb = tfCpu ? (tf as Tf).randomUniform([s.k, s.n], -1, 1) : null;
      if (ta && tb) fns.set('tfjs-cpu', tfRun(tf as Tf, ta as TfTensor, tb as TfTensor));
      const t = await timeSideBySide(fns, budget(s, opts, true));
      for (const [impl, r] of t) record(impl, i, r.ms);
      a.dispose();
      b.dispose();
      ta?.dispose();
      tb?.dispose();
    }
    await setBackend('webgpu');

    const gflops = (s: Shape, t: number | null | undefined) => (t ? (2 * s.m * s.k * s.n) / t / 1e6 : null);
    const rows = list.map((s, i) => {
      const g = (impl: Impl) => gflops(s, (ms.get(impl) as (number | null)[])[i]);
      const w = g('wgru-webgpu');
      const t = g('tfjs-webgpu');
      const wc = g('wgru-cpu');
      const tc = g('tfjs-cpu');
      return [
        s.label,
        fmt(w),
        fmt(t),
        w && t ? `${fmt(w / t)}x` : '-',
        fmt((ms.get('wgru-webgpu') as (number | null)[])[i], 3),
        fmt((ms.get('tfjs-webgpu') as (number | null)[])[i], 3),
        fmt(wc),
        fmt(tc),
        wc && tc ? `${fmt(wc / tc)}x` : '-',
        fmt(g('js-loop')),
        String(dispatches[i] ?? '-'),
      ];
    });
    notes.push(
      'GFLOP/s = 2*m*k*n / median time of one matmul including the read of its result; ms columns are that median.',
      'dispatches: WebGPU dispatches wgru recorded for one matmul (3 = the operands packed into textures, then ' +
        'the kernel).',
    );
    return {
      title: 'matmul, float32, GFLOP/s (higher is better)',
      columns: [
        'shape (m x k @ k x n)',
        'wgru gpu',
        'tfjs gpu',
        'wgru/tfjs',
        'wgru ms',
        'tfjs ms',
        'wgru cpu',
        'tfjs cpu',
        'cpu ratio',
        'js loop',
        'dispatches',
      ],
      rows,
      notes,
      data: list.map((s, i) => ({
        ...s,
        ms: Object.fromEntries(IMPLS.map((impl) => [impl, (ms.get(impl) as (number | null)[])[i]])),
        gflops: Object.fromEntries(IMPLS.map((impl) => [impl, gflops(s, (ms.get(impl) as (number | null)[])[i])])),
        wgruDispatches: dispatches[i],
      })),
    };
  },
};
