/**
 * Whole-sequence scoring: the loss of a batch of sequences under the GRU language model of
 * gru-train.bench.ts, forward only, no gradient (wgru under `noGrad`: each GRU step is its fused
 * inference kernel; TensorFlow.js: `model.apply` in `tf.tidy`). Same configurations, same four
 * implementations; every run ends with a read of the loss.
 * @module
 */
import { noGrad } from '@wgru/autograd';
import { CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { engineStats, setBackend, type Tensor, tensor } from '@wgru/tensor';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import { type LmConfig, TRAIN_CONFIGS, tfLanguageModel } from './gru-train.bench.js';
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

type Impl = 'wgru-webgpu' | 'wgru-webgpu-rf' | 'tfjs-webgpu' | 'wgru-cpu' | 'wgru-cpu-rf' | 'tfjs-cpu';
const IMPLS: Impl[] = ['wgru-webgpu', 'wgru-webgpu-rf', 'tfjs-webgpu', 'wgru-cpu', 'wgru-cpu-rf', 'tfjs-cpu'];
const LABELS: Record<Impl, string> = {
  'wgru-webgpu': 'wgru webgpu (resetAfter true)',
  'wgru-webgpu-rf': 'wgru webgpu (resetAfter false)',
  'tfjs-webgpu': 'tfjs webgpu (resetAfter false)',
  'wgru-cpu': 'wgru cpu (resetAfter true)',
  'wgru-cpu-rf': 'wgru cpu (resetAfter false)',
  'tfjs-cpu': 'tfjs cpu (resetAfter false)',
};

interface Scorer {
  run: () => Promise<void>;
  counts?: { dispatches: number; submits: number };
  dispose: () => void;
}

/** Token ids, time-major [T, B] (row t·B + b), and their next-token targets. */
function batchOf(c: LmConfig): { ids: Int32Array; targets: Int32Array } {
  const ids = Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 7 + 3) % c.V);
  const targets = Int32Array.from({ length: c.T * c.B }, (_, i) => (i * 13 + 5) % c.V);
  return { ids, targets };
}

function wgruScorer(c: LmConfig, resetAfter: boolean): Scorer {
  const embed = new Embedding(c.V, c.I, { seed: 1 });
  const gru = new GRU({ inputSize: c.I, hiddenSize: c.H, resetAfter, seed: 2 });
  const head = new Linear(c.H, c.V, { seed: 3 });
  const lossFn = new CrossEntropyLoss();
  const b = batchOf(c);
  const ids: Tensor = tensor(b.ids, [c.T, c.B], 'int32');
  const targets: Tensor = tensor(b.targets, [c.T * c.B], 'int32');
  const s: Scorer = {
    run: async () => {
      const before = engineStats();
      const loss = noGrad(() =>
        lossFn.forward(head.forward(gru.forward(embed.forward(ids)).output.reshape([c.T * c.B, c.H])), targets),
      );
      const value = await loss.item();
      loss.dispose();
      if (!Number.isFinite(value)) throw new Error(`gru-score: wgru loss is ${value}`);
      const after = engineStats();
      s.counts = { dispatches: after.dispatches - before.dispatches, submits: after.submits - before.submits };
    },
    dispose: () => {
      for (const p of [...embed.parameters(), ...gru.parameters(), ...head.parameters()]) p.dispose();
      ids.dispose();
      targets.dispose();
    },
  };
  return s;
}

function tfScorer(tf: Tf, c: LmConfig): Scorer {
  const { model, x, y } = tfLanguageModel(tf, c, batchOf(c));
  return {
    run: async () => {
      const loss = tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as TfTensor));
      const value = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(value)) throw new Error(`gru-score: tfjs loss is ${value}`);
    },
    dispose: () => {
      x.dispose();
      y.dispose();
      model.dispose();
    },
  };
}

function budget(opts: BenchOptions): TimeOptions {
  return opts.quick
    ? { warmup: 1, minRuns: 3, maxRuns: 3, budgetMs: 0 }
    : { warmup: 2, minRuns: 5, maxRuns: 5, budgetMs: 0 };
}

export const gruScoreBench: Benchmark = {
  name: 'gru-score',
  description: 'whole-sequence scoring (forward only, no gradient) of the GRU language model, wgru vs TensorFlow.js',
  async run(opts) {
    const tf = opts.noTfjs ? null : await loadTfjs(opts.log);
    const configs = opts.args.config
      ? TRAIN_CONFIGS.filter((_, i) => opts.args.config?.split(',').includes(String(i + 1)))
      : TRAIN_CONFIGS;
    const ms = new Map<Impl, (number | null)[]>(IMPLS.map((i) => [i, configs.map(() => null)]));
    const counts = new Map<Impl, ({ dispatches: number; submits: number } | null)[]>(
      IMPLS.map((i) => [i, configs.map(() => null)]),
    );
    const notes: string[] = [];
    for (const [i, c] of configs.entries()) {
      for (const kind of ['webgpu', 'cpu'] as const) {
        await setBackend(kind);
        const tfOk = tf !== null && (await tfBackend(tf, kind));
        opts.log(`  ${kind} ${c.label}`);
        const scorers = new Map<Impl, Scorer>([
          [`wgru-${kind}`, wgruScorer(c, true)],
          [`wgru-${kind}-rf`, wgruScorer(c, false)],
        ]);
        if (tfOk) scorers.set(`tfjs-${kind}`, tfScorer(tf as Tf, c));
        const t = await timeSideBySide(new Map([...scorers].map(([k, s]) => [k, s.run])), budget(opts));
        for (const [impl, r] of t) {
          const msList = ms.get(impl);
          const countList = counts.get(impl);
          if (msList) msList[i] = r.ms;
          if (countList) countList[i] = scorers.get(impl)?.counts ?? null;
          opts.log(`    ${LABELS[impl]}: ${r.runs.map((x) => x.toFixed(1)).join(', ')} ms`);
        }
        for (const s of scorers.values()) s.dispose();
      }
    }
    await setBackend('webgpu');
    const at = (impl: Impl, i: number) => ms.get(impl)?.[i] ?? null;
    const tps = (impl: Impl, i: number, c: LmConfig) => {
      const t = at(impl, i);
      return t ? ((c.B * c.T) / t) * 1000 : null;
    };
    const rows: string[][] = [];
    for (const [i, c] of configs.entries()) {
      for (const impl of IMPLS) {
        const kind = impl.includes('webgpu') ? 'webgpu' : 'cpu';
        const base = tps(`tfjs-${kind}`, i, c);
        const mine = tps(impl, i, c);
        const k = counts.get(impl)?.[i] ?? null;
        rows.push([
          c.label,
          LABELS[impl],
          fmt(at(impl, i), 1),
          fmt(mine, 0),
          impl.startsWith('tfjs') ? '1.00x' : mine && base ? `${fmt(mine / base)}x` : '-',
          kind === 'webgpu' && k ? String(k.dispatches) : '-',
          kind === 'webgpu' && k ? String(k.submits) : '-',
        ]);
      }
    }
    notes.push(
      'One run: embedding, GRU over all T steps, dense logits, mean cross-entropy, read of the loss. ms = ' +
        'median run after warm-up; tokens/s = B*T / ms.',
      '"vs tfjs": tokens/s over TensorFlow.js on the same kind of backend. dispatches, submits: wgru engine ' +
        'counts for one run on WebGPU.',
    );
    return {
      title: 'GRU whole-sequence scoring, forward only, float32 (tokens/s: higher is better)',
      columns: ['config', 'implementation', 'ms', 'tokens/s', 'vs tfjs', 'dispatches', 'submits'],
      rows,
      notes,
      data: configs.map((c, i) => ({
        ...c,
        ms: Object.fromEntries(IMPLS.map((impl) => [impl, at(impl, i)])),
        tokensPerSecond: Object.fromEntries(IMPLS.map((impl) => [impl, tps(impl, i, c)])),
        wgruCounts: Object.fromEntries(
          IMPLS.filter((impl) => impl.startsWith('wgru-webgpu')).map((impl) => [impl, counts.get(impl)?.[i] ?? null]),
        ),
      })),
    };
  },
};
