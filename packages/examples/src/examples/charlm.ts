/**
 * charlm: a character-level language model, Embedding -> GRU -> Linear -> cross-entropy, trained
 * on the first chapters of "Alice's Adventures in Wonderland" (public domain, shipped in
 * ../../data). It learns to predict each next character from the ones before it; then it writes
 * new text one character at a time, sampling at a temperature.
 *
 * The yardstick is the unigram baseline: the loss of always predicting the text's character
 * frequencies, with no context at all. A model that uses context goes well below it. The text is
 * small, so the model would soon memorise it: dropout slows that down, and the checkpoint keeps
 * the weights from the step with the best validation loss (early stopping).
 *
 *   pnpm example charlm
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { noGrad, type Variable, variable } from '@wgru/autograd';
import {
  Adam,
  CrossEntropyLoss,
  clipGradNorm,
  Dropout,
  Embedding,
  exportOnnx,
  GRU,
  Linear,
  loadSafetensors,
  Module,
} from '@wgru/nn';
import { div, softmax, type Tensor, tensor, tidy, zeros } from '@wgru/tensor';
import type { ExampleOptions } from '../lib/args.js';
import { Checkpointer } from '../lib/checkpoint.js';
import { Progress } from '../lib/progress.js';
import { type ExampleResult, rng, setup } from '../lib/setup.js';
import { lineChart } from '../lib/plots.js';

export const about = {
  name: 'charlm',
  description:
    'character-level language model (Embedding -> GRU -> Linear) on Alice in Wonderland, sampled at a temperature',
  defaultSteps: 400,
};

const SEQ = 48; // characters per training window (backpropagation through 48 steps)
const BATCH = 64; // windows per step
const EMBED = 32;
const HIDDEN = 128;
const EVAL_EVERY = 25;

class CharLM extends Module {
  readonly embed: Embedding;
  readonly gru: GRU;
  readonly drop = new Dropout(0.25); // while training, against memorising a small text
  readonly head: Linear;
  constructor(vocab: number, seed: number) {
    super();
    this.embed = new Embedding(vocab, EMBED, { seed });
    this.gru = new GRU({ inputSize: EMBED, hiddenSize: HIDDEN, seed: seed + 1 });
    this.head = new Linear(HIDDEN, vocab, { seed: seed + 2 });
  }
  /** ids: int32 [T, B] -> logits [T·B, vocab] (row t·B + b), and the last hidden state. */
  forward(ids: Tensor, h0?: Variable): { logits: Variable; hN: Variable } {
    const [T, B] = ids.shape as [number, number];
    const { output, hN } = this.gru.forward(this.embed.forward(ids), h0);
    return { logits: this.head.forward(this.drop.forward(output.reshape([T * B, HIDDEN]))), hN };
  }
}

/**
 * The model as an ONNX file at `file` (and its alphabet beside it, as `<file>.vocab.json`):
 * inputs ids int32 [T, B] and h0 [1, B, HIDDEN], outputs logits [T·B, vocab] and hN, for any T and B.
 */
async function writeOnnx(model: CharLM, vocab: string[], file: string): Promise<string[]> {
  const forward = (ids: Tensor, h0: Variable) => {
    const { logits, hN } = model.forward(ids, h0);
    return [logits, hN];
  };
  const example = [tensor(new Int32Array(4), [2, 2], 'int32'), variable(zeros([1, 2, HIDDEN]))] as const;
  const bytes = await exportOnnx(forward, [...example], {
    inputNames: ['ids', 'h0'],
    outputNames: ['logits', 'hN'],
    dynamicAxes: { ids: { 0: 'time', 1: 'batch' }, h0: { 1: 'batch' } },
  });
  example[0].dispose();
  example[1].dispose();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  writeFileSync(`${file}.vocab.json`, JSON.stringify(vocab));
  return [file, `${file}.vocab.json`];
}

/** Windows of SEQ + 1 characters starting at `starts`: inputs [SEQ, B] and next characters [SEQ·B]. */
function batchAt(ids: Int32Array, starts: number[]): { inputs: Tensor; targets: Tensor } {
  const B = starts.length;
  const x = new Int32Array(SEQ * B);
  const y = new Int32Array(SEQ * B);
  for (let t = 0; t < SEQ; t++) {
    starts.forEach((s, b) => {
      x[t * B + b] = ids[s + t];
      y[t * B + b] = ids[s + t + 1];
    });
  }
  return { inputs: tensor(x, [SEQ, B], 'int32'), targets: tensor(y, [SEQ * B], 'int32') };
}

/** Mean cross-entropy per character over fixed windows, without recording a graph. */
async function evaluate(model: CharLM, lossFn: CrossEntropyLoss, ids: Int32Array, starts: number[]): Promise<number> {
  const { inputs, targets } = batchAt(ids, starts);
  model.eval(); // no dropout
  const loss = tidy(() => noGrad(() => lossFn.forward(model.forward(inputs).logits, targets)).value);
  model.train();
  const value = (await loss.data())[0];
  for (const t of [loss, inputs, targets]) t.dispose();
  return value;
}

/** Writes `length` characters after `prompt`, sampling each from softmax(logits / temperature). */
async function sample(
  model: CharLM,
  vocab: string[],
  prompt: string,
  length: number,
  temperature: number,
  random: () => number,
): Promise<string> {
  let ids = tensor(
    Int32Array.from(prompt, (ch) => Math.max(0, vocab.indexOf(ch))),
    [prompt.length, 1],
    'int32',
  );
  let h: Tensor | undefined;
  let text = prompt;
  for (let i = 0; i < length; i++) {
    const [probs, hN] = tidy(() =>
      noGrad(() => {
        const out = model.forward(ids, h === undefined ? undefined : variable(h));
        const last = out.logits.slice([ids.shape[0] - 1, 0], [1, vocab.length]).value;
        return [softmax(div(last, temperature), 1), out.hN.value] as [Tensor, Tensor];
      }),
    );
    const p = await probs.data();
    let u = random();
    let next = p.findIndex((pi) => (u -= pi) < 0);
    if (next < 0) next = p.length - 1;
    text += vocab[next];
    for (const t of [probs, ids, h]) t?.dispose();
    [ids, h] = [tensor([[next]], undefined, 'int32'), hN];
  }
  ids.dispose();
  h?.dispose();
  return text;
}

/** What the training loop carries from step to step, saved in resumable checkpoints. */
interface LoopState {
  trainCurve: number[];
  validCurve: { step: number; loss: number }[];
  best: { step: number; loss: number };
  checkpoint: string;
  smooth: number;
  /** The data stream's state: where the windows are drawn from next. */
  random: number;
}

export async function run(opts: ExampleOptions = {}): Promise<ExampleResult> {
  const ctx = await setup(about.name, opts, about.defaultSteps);
  const random = rng(ctx.seed);

  // The text, its alphabet, and a 90% / 10% split into training and validation characters.
  const text = readFileSync(new URL('../../data/alice.txt', import.meta.url), 'utf8').replace(/\r/g, '');
  const vocab = [...new Set(text)].sort();
  const ids = Int32Array.from(text, (ch) => vocab.indexOf(ch));
  const split = Math.floor(ids.length * 0.9);
  const [train, valid] = [ids.subarray(0, split), ids.subarray(split)];
  ctx.log(
    `text: ${text.length} characters, ${vocab.length} distinct; ${train.length} for training, ${valid.length} ` +
      `for validation`,
  );

  // Unigram baseline: the validation text's cross-entropy under the training text's character
  // frequencies (add-one smoothed): what a model that ignores all context can do.
  const counts = new Float64Array(vocab.length).fill(1);
  for (const c of train) counts[c] = counts[c] + 1;
  const total = counts.reduce((a, b) => a + b, 0);
  const unigram = -valid.reduce((s, c) => s + Math.log(counts[c] / total), 0) / valid.length;
  ctx.log(`unigram baseline: ${unigram.toFixed(3)} nats/char (${(unigram / Math.LN2).toFixed(2)} bits/char)`);

  const model = new CharLM(vocab.length, ctx.seed);
  const lossFn = new CrossEntropyLoss();
  const opt = new Adam(model.parameters(), { lr: 3e-3 });
  const validStarts = Array.from({ length: Math.floor((valid.length - 1) / SEQ) }, (_, i) => i * SEQ);
  ctx.log(`model: ${model.numParameters()} parameters; ${BATCH} windows of ${SEQ} characters per step`);

  let trainCurve: number[] = [];
  let validCurve: { step: number; loss: number }[] = [];
  let best = { step: 0, loss: Number.POSITIVE_INFINITY };
  let checkpoint = '';
  let smooth = Number.NaN;
  // --checkpoint-every / --resume: everything the loop needs to go on as if it had never stopped.
  const resumable = new Checkpointer<LoopState>(ctx.out, about.name, {
    every: ctx.checkpointEvery,
    resume: ctx.resume,
  });
  const resumed = resumable.resume({ model }, { opt });
  if (resumed !== null) {
    ({ trainCurve, validCurve, best, checkpoint, smooth } = resumed.state);
    random.state = resumed.state.random;
    ctx.log(`resumed after step ${resumed.step}`);
  }
  const progress = new Progress(about.name, ctx.steps, { quiet: ctx.quiet });
  for (let step = (resumed?.step ?? 0) + 1; step <= ctx.steps; step++) {
    const starts = Array.from({ length: BATCH }, () => Math.floor(random() * (train.length - SEQ - 1)));
    const { inputs, targets } = batchAt(train, starts);
    const loss = lossFn.forward(model.forward(inputs).logits, targets);
    loss.backward();
    await clipGradNorm(model.parameters(), 1.0);
    opt.step();
    opt.zeroGrad();
    const value = await loss.item();
    for (const t of [loss, inputs, targets]) t.dispose();
    smooth = Number.isNaN(smooth) ? value : 0.95 * smooth + 0.05 * value;
    trainCurve.push(smooth);
    progress.update(step, { loss: smooth, tokens: SEQ * BATCH });
    if (step % EVAL_EVERY === 0 || step === ctx.steps) {
      const validLoss = await evaluate(model, lossFn, valid, validStarts);
      validCurve.push({ step, loss: validLoss });
      // Early stopping: the checkpoint keeps the weights with the best validation loss so far.
      const better = validLoss < best.loss;
      if (better) {
        best = { step, loss: validLoss };
        checkpoint = await ctx.saveCheckpoint('charlm.safetensors', model, {
          vocab: JSON.stringify(vocab),
          step: String(step),
        });
      }
      progress.log(
        `step ${step}: train ${smooth.toFixed(3)}, validation ${validLoss.toFixed(3)} ` +
          `nats/char${better ? ' (best so far: saved)' : ''}`,
      );
    }
    if (resumable.due(step)) {
      const state = { trainCurve, validCurve, best, checkpoint, smooth, random: random.state };
      await resumable.save(step, { model }, { opt }, state);
    }
  }
  progress.stop();

  // Back to the best weights, from the checkpoint file.
  model.loadStateDict(loadSafetensors(new Uint8Array(readFileSync(checkpoint))));
  model.eval();
  ctx.log(
    `best validation loss ${best.loss.toFixed(3)} nats/char (step ${best.step}) vs unigram baseline ` +
      `${unigram.toFixed(3)}: ${((1 - best.loss / unigram) * 100).toFixed(0)}% lower`,
  );
  for (const temperature of [0.5, 1.0]) {
    ctx.log(
      `\nsample at temperature ${temperature}:\n${await sample(model, vocab, 'Alice ', 240, temperature, random)}`,
    );
  }

  const files = [
    ctx.writeText(
      'loss.svg',
      await lineChart({
        title: 'charlm: loss per character',
        xLabel: 'training step',
        yLabel: 'cross-entropy (nats/char)',
        series: [
          { name: 'train (smoothed, dropout on)', y: trainCurve },
          { name: 'validation', x: validCurve.map((v) => v.step), y: validCurve.map((v) => v.loss), points: true },
          { name: 'unigram baseline', x: [1, ctx.steps], y: [unigram, unigram], dashed: true, color: '#777' },
        ],
      }),
    ),
    checkpoint,
    ...(opts.exportOnnx ? await writeOnnx(model, vocab, opts.exportOnnx) : []),
  ];
  ctx.log(`wrote ${files.join(', ')}`);
  opt.dispose();
  return {
    files,
    metrics: {
      validLoss: best.loss,
      bestStep: best.step,
      finalValidLoss: validCurve[validCurve.length - 1]?.loss ?? Number.NaN,
      unigram,
      trainLoss: smooth,
    },
  };
}
