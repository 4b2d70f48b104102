/**
 * compare: GRU vs LSTM vs tanh RNN, measured. Three character-level language models
 * (Embedding -> recurrent layer -> Linear), alike but for the recurrent layer: a GRU, an LSTM and a
 * tanh RNN of the same hidden size. Each trains on the same windows of the shipped text ("Alice's
 * Adventures in Wonderland", chapters I-II), in the same order, with the same optimizer, learning
 * rate, gradient clipping and number of steps; each starts from its library initialisation.
 *
 * The table gives what each one costs (parameters, milliseconds per training step) and what it
 * bought (training and validation loss per character at the end). Predicting the next character
 * takes memory: of the word so far, of an open quotation, of the sentence's subject. Each trained
 * model's weights go to compare-gru.safetensors, compare-lstm.safetensors and compare-rnn.safetensors.
 *
 *   pnpm example compare
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, type Variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, clipGradNorm, Embedding, GRU, Linear, LSTM, Module, RNN } from '@wgru/nn';
import { type Tensor, tensor, tidy } from '@wgru/tensor';
import type { ExampleOptions } from '../lib/args.js';
import { barChart, lineChart } from '../lib/plots.js';
import { Checkpointer } from '../lib/checkpoint.js';
import { Progress } from '../lib/progress.js';
import { type ExampleResult, rng, setup } from '../lib/setup.js';

export const about = {
  name: 'compare',
  description:
    'GRU vs LSTM vs tanh RNN as character-level language models, same data and budget: parameters, ms per step, losses',
  defaultSteps: 200,
};

const SEQ = 64; // characters per window (backpropagation through 64 steps)
const BATCH = 32; // windows per step
const EMBED = 32;
const HIDDEN = 96;
const LR = 3e-3;
const EVAL_EVERY = 20;
const KINDS = ['GRU', 'LSTM', 'RNN'] as const;
type Kind = (typeof KINDS)[number];

class CharLM extends Module {
  readonly embed: Embedding;
  readonly rnn: GRU | LSTM | RNN;
  readonly head: Linear;
  constructor(kind: Kind, vocab: number, seed: number) {
    super();
    this.embed = new Embedding(vocab, EMBED, { seed });
    const opts = { inputSize: EMBED, hiddenSize: HIDDEN, seed: seed + 1 };
    this.rnn = kind === 'GRU' ? new GRU(opts) : kind === 'LSTM' ? new LSTM(opts) : new RNN(opts);
    this.head = new Linear(HIDDEN, vocab, { seed: seed + 2 });
  }
  /** ids: int32 [T, B] -> logits [T·B, vocab]. */
  forward(ids: Tensor): Variable {
    const [T, B] = ids.shape as [number, number];
    const { output } = this.rnn.forward(this.embed.forward(ids));
    return this.head.forward(output.reshape([T * B, HIDDEN]));
  }
}

/** Windows of SEQ + 1 characters starting at `starts`: inputs [SEQ, B] and next characters [SEQ·B]. */
function batchAt(ids: Int32Array, starts: number[]): { inputs: Tensor; targets: Tensor } {
  const B = starts.length;
  const [x, y] = [new Int32Array(SEQ * B), new Int32Array(SEQ * B)];
  for (let t = 0; t < SEQ; t++) {
    for (const [b, s] of starts.entries()) [x[t * B + b], y[t * B + b]] = [ids[s + t] ?? 0, ids[s + t + 1] ?? 0];
  }
  return { inputs: tensor(x, [SEQ, B], 'int32'), targets: tensor(y, [SEQ * B], 'int32') };
}

/** Mean cross-entropy per character over fixed windows, without recording a graph. */
async function evaluate(model: CharLM, lossFn: CrossEntropyLoss, ids: Int32Array, starts: number[]): Promise<number> {
  const { inputs, targets } = batchAt(ids, starts);
  const loss = tidy(() => noGrad(() => lossFn.forward(model.forward(inputs), targets)).value);
  const value = (await loss.data())[0] ?? Number.NaN;
  for (const t of [loss, inputs, targets]) t.dispose();
  return value;
}

/** What one model's run measured. */
interface Measured {
  kind: Kind;
  parameters: number;
  msPerStep: number;
  trainLoss: number;
  validLoss: number;
  trainCurve: { step: number; loss: number }[];
  validCurve: { step: number; loss: number }[];
}

/** What a resumable checkpoint of compare holds besides weights and optimizer state. */
interface LoopState {
  /** The models measured so far. */
  results: Measured[];
  /** The model being trained: its figures so far, its step times, its data stream's state. */
  current: { kind: Kind; measured: Measured; times: number[]; random: number } | null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function run(opts: ExampleOptions = {}): Promise<ExampleResult> {
  const ctx = await setup(about.name, opts, about.defaultSteps);

  // The text, its alphabet, and a 90% / 10% split into training and validation characters.
  const text = readFileSync(new URL('../../data/alice.txt', import.meta.url), 'utf8').replace(/\r/g, '');
  const vocab = [...new Set(text)].sort();
  const ids = Int32Array.from(text, (ch) => vocab.indexOf(ch));
  const split = Math.floor(ids.length * 0.9);
  const [train, valid] = [ids.subarray(0, split), ids.subarray(split)];
  // Fixed windows for the losses: all of the validation text, and as many training windows.
  const validStarts = Array.from({ length: Math.floor((valid.length - 1) / SEQ) }, (_, i) => i * SEQ);
  const trainStarts = validStarts.map((_, i) => Math.floor((i * (train.length - SEQ - 1)) / validStarts.length));
  const lossFn = new CrossEntropyLoss();
  ctx.log(`text: ${train.length} characters for training, ${valid.length} for validation, ${vocab.length} distinct`);
  // The yardstick of `charlm`: the validation text's loss under the training text's character
  // frequencies (add-one smoothed), which is what a model that ignores all context can do.
  const counts = new Float64Array(vocab.length).fill(1);
  for (const c of train) counts[c] = (counts[c] ?? 0) + 1;
  const total = counts.reduce((a, b) => a + b, 0);
  const unigram = -valid.reduce((s, c) => s + Math.log((counts[c] ?? 1) / total), 0) / valid.length;
  ctx.log(
    `budget for each model: ${ctx.steps} steps of ${BATCH} windows of ${SEQ} characters, hidden size ${HIDDEN}, ` +
      `Adam lr ${LR}, gradients clipped at norm 1`,
  );

  let results: Measured[] = [];
  const checkpoints: string[] = [];
  const weightsFile = (kind: Kind) => `compare-${kind.toLowerCase()}.safetensors`;
  // --checkpoint-every / --resume: the models already measured (their weights files are written),
  // and the one being trained (its weights, optimizer, curves, step times and data position).
  // Steps are counted across models.
  const resumable = new Checkpointer<LoopState>(ctx.out, about.name, {
    every: ctx.checkpointEvery,
    resume: ctx.resume,
  });
  const last = resumable.peek();
  if (last !== null) results = last.state.results;
  for (const m of results) checkpoints.push(join(ctx.out, weightsFile(m.kind)));
  for (const kind of KINDS.slice(results.length)) {
    const model = new CharLM(kind, vocab.length, ctx.seed);
    const opt = new Adam(model.parameters(), { lr: LR });
    const random = rng(ctx.seed); // the same windows, in the same order, for every model
    let m: Measured = {
      kind,
      parameters: model.numParameters(),
      msPerStep: 0,
      trainLoss: 0,
      validLoss: 0,
      trainCurve: [],
      validCurve: [],
    };
    let times: number[] = [];
    let first = 1;
    const offset = results.length * ctx.steps;
    if (last?.state.current?.kind === kind) {
      const resumed = resumable.resume({ model }, { opt }) as NonNullable<typeof last>;
      ({ measured: m, times } = resumed.state.current as NonNullable<LoopState['current']>);
      random.state = (resumed.state.current as NonNullable<LoopState['current']>).random;
      first = resumed.step - offset + 1;
      ctx.log(`resumed ${kind} after step ${first - 1}`);
    }
    const progress = new Progress(`${about.name} ${kind}`, ctx.steps, { quiet: ctx.quiet });
    for (let step = first; step <= ctx.steps; step++) {
      const starts = Array.from({ length: BATCH }, () => Math.floor(random() * (train.length - SEQ - 1)));
      const { inputs, targets } = batchAt(train, starts);
      const start = performance.now();
      const loss = lossFn.forward(model.forward(inputs), targets);
      loss.backward();
      await clipGradNorm(model.parameters(), 1.0);
      opt.step();
      opt.zeroGrad();
      const value = await loss.item(); // waits for the step to finish, so that the time is honest
      times.push(performance.now() - start);
      for (const t of [loss, inputs, targets]) t.dispose();
      progress.update(step, { loss: value, tokens: SEQ * BATCH });
      if (step % EVAL_EVERY === 0 || step === ctx.steps || step === 1) {
        m.trainCurve.push({ step, loss: await evaluate(model, lossFn, train, trainStarts) });
        m.validCurve.push({ step, loss: await evaluate(model, lossFn, valid, validStarts) });
      }
      if (resumable.due(offset + step)) {
        const current = { kind, measured: m, times, random: random.state };
        await resumable.save(offset + step, { model }, { opt }, { results, current });
      }
    }
    progress.stop();
    m.msPerStep = median(times);
    m.trainLoss = m.trainCurve.at(-1)?.loss ?? Number.NaN;
    m.validLoss = m.validCurve.at(-1)?.loss ?? Number.NaN;
    results.push(m);
    // Each model's weights, as every example writes them (keys embed.*, rnn.*, head.*).
    checkpoints.push(
      await ctx.saveCheckpoint(weightsFile(kind), model, {
        kind,
        vocab: JSON.stringify(vocab.join('')),
        steps: String(ctx.steps),
      }),
    );
    opt.dispose();
    model.dispose();
  }

  // The table.
  const header = ['model', 'parameters', 'ms/step (median)', 'train loss', 'validation loss'];
  const rows = results.map((m) => [
    m.kind,
    String(m.parameters),
    m.msPerStep.toFixed(1),
    m.trainLoss.toFixed(3),
    m.validLoss.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  ctx.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}`);
  ctx.log(
    `(nats per character, on all of the validation text and as many fixed training windows; unigram baseline ` +
      `${unigram.toFixed(3)})`,
  );

  const colors: Record<Kind, string> = { GRU: '#1f77b4', LSTM: '#d62728', RNN: '#2ca02c' };
  const task = {
    vocab: vocab.length,
    seq: SEQ,
    batch: BATCH,
    embed: EMBED,
    hidden: HIDDEN,
    lr: LR,
    steps: ctx.steps,
    seed: ctx.seed,
  };
  const files = [
    ctx.writeText(
      'loss.svg',
      await lineChart({
        title: `compare: character-level language models, the same ${ctx.steps} steps for each`,
        xLabel: 'training step',
        yLabel: 'cross-entropy (nats/char)',
        legendColumns: 3, // a row per kind of loss, a column per model
        series: [
          ...results.map((m) => ({
            name: `${m.kind} train`,
            x: m.trainCurve.map((v) => v.step),
            y: m.trainCurve.map((v) => v.loss),
            color: colors[m.kind],
          })),
          ...results.map((m) => ({
            name: `${m.kind} validation`,
            x: m.validCurve.map((v) => v.step),
            y: m.validCurve.map((v) => v.loss),
            color: colors[m.kind],
            dashed: true,
          })),
          { name: 'unigram baseline', x: [1, ctx.steps], y: [unigram, unigram], dashed: true, color: '#777' },
        ],
      }),
    ),
    ctx.writeText(
      'summary.svg',
      await barChart({
        title: `compare: GRU vs LSTM vs tanh RNN, hidden size ${HIDDEN}, ${ctx.steps} steps each`,
        panels: [
          { title: 'parameters', bars: results.map((m) => ({ label: m.kind, value: m.parameters })) },
          { title: 'ms per training step', bars: results.map((m) => ({ label: m.kind, value: m.msPerStep })) },
          { title: 'train loss (nats/char)', bars: results.map((m) => ({ label: m.kind, value: m.trainLoss })) },
          { title: 'validation loss (nats/char)', bars: results.map((m) => ({ label: m.kind, value: m.validLoss })) },
        ],
      }),
    ),
    ctx.writeText('compare.json', `${JSON.stringify({ task, unigram, results }, null, 2)}\n`),
    ...checkpoints,
  ];
  ctx.log(`wrote ${files.join(', ')}`);
  return {
    files,
    metrics: Object.fromEntries(
      results.flatMap((m) => [
        [`${m.kind}ValidLoss`, m.validLoss],
        [`${m.kind}MsPerStep`, m.msPerStep],
      ]),
    ),
  };
}
