/**
 * GRU language-model training step: Embedding(V, I) -> GRU(I -> H) -> Linear(H -> V) ->
 * softmax cross-entropy, Adam. wgru on WebGPU and on its CPU backend (resetAfter true, the
 * cuDNN / Keras-v2 placement, and resetAfter false), TensorFlow.js on WebGPU (the same Dawn
 * adapter, same process) and on its CPU backend (tf.layers, resetAfter false: the only placement
 * its GRU supports). One step = forward, loss, backward, optimizer update, and a read of the loss
 * from the host, so that device work is included. Reports ms/step, tokens/s (B·T per step), the
 * ratios, and wgru's engine counts per step.
 *
 *   pnpm bench --only=gru-train [--quick] [--config=1|2] [--steps=N] [--backends=webgpu]
 * @module
 */
import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { engineStats, setBackend, type Tensor, tensor } from '@wgru/tensor';
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

/** One model and batch size: B sequences of T tokens, vocabulary V, embedding I, hidden H. */
export interface LmConfig {
  label: string;
  B: number;
  T: number;
  I: number;
  H: number;
  V: number;
}

export const TRAIN_CONFIGS: LmConfig[] = [
  { label: 'B=32 T=64 I=64 H=128 V=64', B: 32, T: 64, I: 64, H: 128, V: 64 },
  { label: 'B=64 T=64 I=128 H=256 V=128', B: 64, T: 64, I: 128, H: 256, V: 128 },
];

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

/** A fixed random batch: ids [T, B] (time-major for wgru) and the next-token targets. */
export interface Batch {
  /** Row t·B + b is token t of sequence b. */
  ids: Int32Array;
  targets: Int32Array;
}

export function randomBatch(c: LmConfig, seed: number): Batch {
  let s = seed >>> 0;
  const next = () => {
    // xorshift32: a reproducible batch without a dependency
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % c.V;
  };
  const ids = Int32Array.from({ length: c.T * c.B }, next);
  const targets = Int32Array.from({ length: c.T * c.B }, next);
  return { ids, targets };
}

/** The engine counts of one step, as wgru's engine reports them. */
interface StepCounts {
  dispatches: number;
  submits: number;
}

/** A wgru training step on the active backend, for one configuration and placement. */
export function wgruTrainer(
  c: LmConfig,
  batch: Batch,
  resetAfter: boolean,
): { step: () => Promise<void>; counts: StepCounts; dispose: () => void } {
  const embed = new Embedding(c.V, c.I, { seed: 1 });
  const gru = new GRU({ inputSize: c.I, hiddenSize: c.H, resetAfter, seed: 2 });
  const head = new Linear(c.H, c.V, { seed: 3 });
  const params = [...embed.parameters(), ...gru.parameters(), ...head.parameters()];
  const opt = new Adam(params, { lr: 1e-3 });
  const lossFn = new CrossEntropyLoss();
  const ids: Tensor = tensor(batch.ids, [c.T, c.B], 'int32');
  const targets: Tensor = tensor(batch.targets, [c.T * c.B], 'int32');
  const counts: StepCounts = { dispatches: 0, submits: 0 };
  const step = async () => {
    const before = engineStats();
    const { output } = gru.forward(embed.forward(ids));
    const loss = lossFn.forward(head.forward(output.reshape([c.T * c.B, c.H])), targets);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    const value = await loss.item();
    loss.dispose();
    if (!Number.isFinite(value)) throw new Error(`gru-train: wgru loss is ${value}`);
    const after = engineStats();
    counts.dispatches = after.dispatches - before.dispatches;
    counts.submits = after.submits - before.submits;
  };
  const dispose = () => {
    opt.dispose();
    for (const p of params) p.dispose();
    ids.dispose();
    targets.dispose();
  };
  return { step, counts, dispose };
}

type TfTensor = ReturnType<Tf['tensor2d']>;

/**
 * The same language model in TensorFlow.js's layers API, on its active backend: embedding, a GRU
 * that returns the whole sequence (sigmoid recurrent activation, as wgru's), dense logits; with
 * its batch-major inputs x [B, T] and one-hot targets y [B, T, V] (the same tokens as wgru's
 * time-major batch). Shared by the training and scoring benches.
 */
export function tfLanguageModel(tf: Tf, c: LmConfig, batch: { ids: Int32Array; targets: Int32Array }) {
  // tfjs is batch-major: [B, T]. Row b of ids is sequence b.
  const idsBT = new Int32Array(c.B * c.T);
  const tgtBT = new Int32Array(c.B * c.T);
  for (let t = 0; t < c.T; t++) {
    for (let b = 0; b < c.B; b++) {
      idsBT[b * c.T + t] = batch.ids[t * c.B + b];
      tgtBT[b * c.T + t] = batch.targets[t * c.B + b];
    }
  }
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: c.V, outputDim: c.I, inputLength: c.T }),
      // glorotUniform rather than the default orthogonal initializer: the same step, without tfjs's
      // slow orthogonalisation of U at build time.
      tf.layers.gru({
        units: c.H,
        returnSequences: true,
        recurrentActivation: 'sigmoid',
        recurrentInitializer: 'glorotUniform',
      }),
      tf.layers.dense({ units: c.V }),
    ],
  });
  const x = tf.tensor2d(idsBT, [c.B, c.T], 'int32');
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(tgtBT, 'int32'), c.V).reshape([c.B, c.T, c.V]));
  return { model, x, y };
}

/** tfjs training: softmax cross-entropy minimised by tf.train.adam. */
export function tfTrainer(tf: Tf, c: LmConfig, batch: Batch): { step: () => Promise<void>; dispose: () => void } {
  const { model, x, y } = tfLanguageModel(tf, c, batch);
  const optimizer = tf.train.adam(1e-3);
  const step = async () => {
    const loss = optimizer.minimize(() => {
      const logits = model.apply(x, { training: true }) as TfTensor;
      return tf.losses.softmaxCrossEntropy(y, logits) as ReturnType<Tf['scalar']>;
    }, true);
    if (!loss) throw new Error('gru-train: tfjs minimize returned no loss');
    const value = (await loss.data())[0];
    loss.dispose();
    if (!Number.isFinite(value)) throw new Error(`gru-train: tfjs loss is ${value}`);
  };
  const dispose = () => {
    x.dispose();
    y.dispose();
    optimizer.dispose();
    model.dispose();
  };
  return { step, dispose };
}

/** Training steps take ~0.1–20 s here: warm up 2 steps (shader compiles, pools), then a few. */
function budget(opts: BenchOptions): TimeOptions {
  const n = Number(opts.args.steps ?? (opts.quick ? 3 : 5));
  return { warmup: opts.quick ? 1 : 2, minRuns: n, maxRuns: n, budgetMs: 0 };
}

export const gruTrainBench: Benchmark = {
  name: 'gru-train',
  description:
    'GRU language-model training step (Embedding -> GRU -> Linear -> cross-entropy, Adam), wgru vs TensorFlow.js',
  async run(opts) {
    const tf = opts.noTfjs ? null : await loadTfjs(opts.log);
    const configs = opts.args.config
      ? TRAIN_CONFIGS.filter((_, i) => opts.args.config?.split(',').includes(String(i + 1)))
      : TRAIN_CONFIGS;
    // Median ms per step, per implementation and configuration.
    const ms = new Map<Impl, (number | null)[]>(IMPLS.map((i) => [i, configs.map(() => null)]));
    // wgru's engine counts of one WebGPU step, per configuration, for each reset placement.
    const countsAfter: StepCounts[] = [];
    const countsBefore: StepCounts[] = [];
    const notes: string[] = [];
    const time = async (
      i: number,
      entries: Array<[Impl, { step: () => Promise<void>; dispose: () => void }]>,
    ): Promise<void> => {
      const t = await timeSideBySide(new Map(entries.map(([k, v]) => [k, v.step])), budget(opts));
      for (const [impl, r] of t) {
        const list = ms.get(impl);
        if (list) list[i] = r.ms;
        opts.log(
          `    ${LABELS[impl]}: ${r.runs.map((x) => x.toFixed(0)).join(', ')} ms -> median ${r.ms.toFixed(0)} ms/step`,
        );
      }
      for (const [, v] of entries) v.dispose();
    };

    for (const [i, c] of configs.entries()) {
      const batch = randomBatch(c, 12345 + i);

      // WebGPU: wgru (both placements) and TensorFlow.js side by side.
      await setBackend('webgpu');
      const tfGpu = tf !== null && (await tfBackend(tf, 'webgpu'));
      if (tf && !tfGpu && i === 0) notes.push('TensorFlow.js WebGPU backend did not start.');
      opts.log(`  webgpu ${c.label}`);
      const ra = wgruTrainer(c, batch, true);
      const rb = wgruTrainer(c, batch, false);
      const gpu: Array<[Impl, { step: () => Promise<void>; dispose: () => void }]> = [
        ['wgru-webgpu', ra],
        ['wgru-webgpu-rf', rb],
      ];
      if (tfGpu) gpu.push(['tfjs-webgpu', tfTrainer(tf as Tf, c, batch)]);
      await time(i, gpu);
      countsAfter[i] = { ...ra.counts };
      countsBefore[i] = { ...rb.counts };

      // CPU: wgru's CPU backend and TensorFlow.js's (skipped with --backends=webgpu).
      if (opts.args.backends === 'webgpu') continue;
      await setBackend('cpu');
      const tfCpu = tf !== null && (await tfBackend(tf, 'cpu'));
      opts.log(`  cpu ${c.label}`);
      const cpu: Array<[Impl, { step: () => Promise<void>; dispose: () => void }]> = [
        ['wgru-cpu', wgruTrainer(c, batch, true)],
        ['wgru-cpu-rf', wgruTrainer(c, batch, false)],
      ];
      if (tfCpu) cpu.push(['tfjs-cpu', tfTrainer(tf as Tf, c, batch)]);
      await time(i, cpu);
    }
    await setBackend('webgpu');

    const tokens = (c: LmConfig) => c.B * c.T;
    const at = (impl: Impl, i: number) => ms.get(impl)?.[i] ?? null;
    const tps = (impl: Impl, i: number, c: LmConfig) => {
      const t = at(impl, i);
      return t ? (tokens(c) / t) * 1000 : null;
    };
    const ratio = (a: number | null, b: number | null) => (a && b ? `${fmt(a / b)}x` : '-');
    const rows: string[][] = [];
    for (const [i, c] of configs.entries()) {
      const base: Record<'webgpu' | 'cpu', number | null> = {
        webgpu: tps('tfjs-webgpu', i, c),
        cpu: tps('tfjs-cpu', i, c),
      };
      for (const impl of IMPLS) {
        const kind = impl.includes('webgpu') ? 'webgpu' : 'cpu';
        const rc = impl === 'wgru-webgpu' ? countsAfter[i] : impl === 'wgru-webgpu-rf' ? countsBefore[i] : undefined;
        rows.push([
          c.label,
          LABELS[impl],
          fmt(at(impl, i), 0),
          fmt(tps(impl, i, c), 0),
          impl.startsWith('tfjs') ? '1.00x' : ratio(tps(impl, i, c), base[kind]),
          rc ? String(rc.dispatches) : '-',
          rc ? String(rc.submits) : '-',
        ]);
      }
    }
    notes.push(
      'One step: forward, loss, backward, optimizer update (Adam, lr 1e-3), read of the loss (await ' +
        'item()/data()). ms = median over the timed steps after warm-up.',
      'tokens/s = B*T / (ms/step). "vs tfjs": tokens/s over TensorFlow.js on the same kind of backend ' +
        '(resetAfter false, the only GRU placement tfjs has).',
      'dispatches, submits: wgru engine counts (engineStats) for one whole training step on WebGPU.',
    );
    return {
      title: 'GRU language-model training step, float32 (tokens/s: higher is better)',
      columns: ['config', 'implementation', 'ms/step', 'tokens/s', 'vs tfjs', 'dispatches', 'submits'],
      rows,
      notes,
      data: configs.map((c, i) => ({
        ...c,
        msPerStep: Object.fromEntries(IMPLS.map((impl) => [impl, at(impl, i)])),
        tokensPerSecond: Object.fromEntries(IMPLS.map((impl) => [impl, tps(impl, i, c)])),
        wgruWebgpuCounts: { resetAfter: countsAfter[i] ?? null, resetBefore: countsBefore[i] ?? null },
      })),
    };
  },
};
