/**
 * Soak: trains for a given time and watches memory, to show that a long run does not grow.
 * The model is the README's: Embedding -> GRU (H = 128) -> Linear, B = 16, T = 32, Adam, the loss
 * read every step (`await loss.item()`). At intervals it reports the process's RSS, the JS heap,
 * `memory()` (live tensors, device bytes in use and pooled) and ms/step; the note gives the RSS
 * growth from the end of the warm-up (the first minute) to the end.
 *
 *   pnpm bench --only=soak                          10 minutes, a row every 30 s
 *   pnpm bench --only=soak --minutes=1 --every=10   shorter
 *
 * Not a test: it takes minutes, and its figures are the machine's.
 * @module
 */
import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { backend, memory, tensor } from '@wgru/tensor';
import type { Benchmark, BenchOptions, BenchResult } from './lib.js';

const [V, H, B, T] = [64, 128, 16, 32];

interface Sample {
  seconds: number;
  step: number;
  msPerStep: number;
  rssMB: number;
  heapMB: number;
  liveTensors: number;
  inUseMB: number;
  pooledMB: number;
}

function positive(opts: BenchOptions, key: string, fallback: number): number {
  const v = opts.args[key] === undefined ? fallback : Number(opts.args[key]);
  if (!Number.isFinite(v) || v <= 0)
    throw new Error(`bench soak: --${key} must be a positive number, got '${opts.args[key]}'`);
  return v;
}

export const soakBench: Benchmark = {
  name: 'soak',
  description: 'trains for --minutes (default 10) and reports RSS, heap, memory() and ms/step every --every seconds',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const minutes = positive(opts, 'minutes', opts.quick ? 0.5 : 10);
    const every = positive(opts, 'every', opts.quick ? 5 : 30);
    const gc = (globalThis as { gc?: () => void }).gc;
    const embed = new Embedding(V, H, { seed: 1 });
    const gru = new GRU({ inputSize: H, hiddenSize: H, batchFirst: true, seed: 2 });
    const head = new Linear(H, V, { seed: 3 });
    const opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 1e-3 });
    const lossFn = new CrossEntropyLoss();
    const x = tensor(
      Int32Array.from({ length: B * T }, (_, i) => (i * 7) % V),
      [B, T],
      'int32',
    );
    const y = tensor(
      Int32Array.from({ length: B * T }, (_, i) => (i * 11 + 3) % V),
      [B * T],
      'int32',
    );

    const samples: Sample[] = [];
    const start = performance.now();
    const end = start + minutes * 60_000;
    let [step, lastStep, lastTime, nextReport] = [0, 0, start, start + every * 1000];
    let loss = Number.NaN;
    while (performance.now() < end) {
      const out = lossFn.forward(head.forward(gru.forward(embed.forward(x)).output.reshape([B * T, H])), y);
      out.backward();
      opt.step();
      opt.zeroGrad();
      loss = await out.item();
      step++;
      const now = performance.now();
      if (now >= nextReport || now >= end) {
        gc?.(); // a settled heap, so that the figures compare across rows
        const m = memory();
        const s: Sample = {
          seconds: (now - start) / 1000,
          step,
          msPerStep: (now - lastTime) / (step - lastStep),
          rssMB: process.memoryUsage().rss / 2 ** 20,
          heapMB: process.memoryUsage().heapUsed / 2 ** 20,
          liveTensors: m.liveTensors,
          inUseMB: m.bytesInUse / 2 ** 20,
          pooledMB: m.bytesPooled / 2 ** 20,
        };
        samples.push(s);
        opts.log(
          `soak: ${s.seconds.toFixed(0)} s, step ${step}, ${s.msPerStep.toFixed(1)} ms/step, RSS ${s.rssMB.toFixed(1)} MB, heap ${s.heapMB.toFixed(1)} MB, loss ${loss.toFixed(3)}`,
        );
        [lastStep, lastTime, nextReport] = [step, performance.now(), nextReport + every * 1000];
      }
    }
    for (const m of [embed, gru, head, opt]) m.dispose();
    x.dispose();
    y.dispose();

    // Warm-up: the first minute (or fifth of the run, if shorter): kernels compile, pools fill.
    const warm = Math.min(60, (minutes * 60) / 5);
    const first = samples.find((s) => s.seconds >= warm) ?? samples[0];
    const last = samples[samples.length - 1];
    const growth = first && last ? last.rssMB - first.rssMB : Number.NaN;
    const heapGrowth = first && last ? last.heapMB - first.heapMB : Number.NaN;
    return {
      title: `soak: ${minutes} min of training on ${backend().name} (Embedding -> GRU H=${H} -> Linear, B=${B}, T=${T}, Adam)`,
      columns: ['s', 'step', 'ms/step', 'RSS MB', 'heap MB', 'live tensors', 'device MB in use', 'device MB pooled'],
      rows: samples.map((s) => [
        s.seconds.toFixed(0),
        String(s.step),
        s.msPerStep.toFixed(1),
        s.rssMB.toFixed(1),
        s.heapMB.toFixed(1),
        String(s.liveTensors),
        s.inUseMB.toFixed(2),
        s.pooledMB.toFixed(2),
      ]),
      notes: [
        `RSS growth after warm-up (from the row at ${first?.seconds.toFixed(0)} s to the last): ${growth.toFixed(1)} MB; heap ${heapGrowth.toFixed(1)} MB; final loss ${loss.toFixed(3)}.`,
        `The loss is read every step (await loss.item()).${gc ? '' : ' Run with --expose-gc for settled heap figures.'}`,
      ],
      data: { minutes, every, samples, rssGrowthMB: growth, heapGrowthMB: heapGrowth },
    };
  },
};
