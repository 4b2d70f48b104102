/**
 * hi: the smallest GRU task. A GRU reads "hi" one character at a time (one-hot vectors of size 3 over
 * the alphabet h, i, .) and learns to answer "ih". Training is full backpropagation through time:
 * the loss at both steps flows back through the output layer AND through every gate (z, r, h̃) of
 * the GRU, so all of them learn, as the printout of how far each gate's weights moved shows.
 *
 *   pnpm example hi
 * @module
 */
import { noGrad, type Variable, variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, GRU, Linear, Module } from '@wgru/nn';
import { argmax, softmax, type Tensor, tensor, tidy } from '@wgru/tensor';
import type { ExampleOptions } from '../lib/args.js';
import { Progress } from '../lib/progress.js';
import { type ExampleResult, setup } from '../lib/setup.js';
import { lineChart } from '../lib/plots.js';

export const about = {
  name: 'hi',
  description: 'the smallest GRU task: a GRU learns "hi" -> "ih" (one-hot inputs of size 3), all gates trained by BPTT',
  defaultSteps: 100,
};

const VOCAB = ['h', 'i', '.'];
const HIDDEN = 8;

/** GRU over the sequence, then a linear layer from each hidden state to the 3 characters. */
class HiModel extends Module {
  readonly gru: GRU;
  readonly head: Linear;
  constructor(seed: number) {
    super();
    this.gru = new GRU({ inputSize: VOCAB.length, hiddenSize: HIDDEN, seed });
    this.head = new Linear(HIDDEN, VOCAB.length, { seed: seed + 100 });
  }
  /** x: [T, 1, 3] one-hot -> logits [T, 3]. */
  forward(x: Variable): Variable {
    const { output } = this.gru.forward(x);
    return this.head.forward(output.reshape([x.shape[0], HIDDEN]));
  }
}

const oneHot = (s: string): number[][][] => [...s].map((ch) => [VOCAB.map((v) => (v === ch ? 1 : 0))]);

/** What the model answers to "hi", with the probability it gives each target character. */
async function predict(model: HiModel, x: Variable, target: string): Promise<string> {
  const [probs, best] = tidy(() => {
    const logits = noGrad(() => model.forward(x)).value;
    return [softmax(logits, 1), argmax(logits, 1)] as [Tensor, Tensor];
  });
  const p = await probs.data();
  const answer = Array.from(await best.data(), (i) => VOCAB[i]).join('');
  probs.dispose();
  best.dispose();
  const pTarget = [...target].map((ch, t) => `p(${ch})=${p[t * VOCAB.length + VOCAB.indexOf(ch)].toFixed(3)}`);
  return `"hi" -> "${answer}"   (${pTarget.join(', ')})`;
}

/** The gate blocks z | r | h of a [rows, 3H] weight matrix, as flat arrays. */
async function gateBlocks(w: Variable): Promise<Float32Array[]> {
  const data = await w.data();
  const cols = 3 * HIDDEN;
  return [0, 1, 2].map((g) => Float32Array.from(data.filter((_, i) => Math.floor((i % cols) / HIDDEN) === g)));
}

const distance = (a: Float32Array, b: Float32Array): number => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));

export async function run(opts: ExampleOptions = {}): Promise<ExampleResult> {
  const ctx = await setup(about.name, opts, about.defaultSteps);
  const model = new HiModel(ctx.seed);
  const lossFn = new CrossEntropyLoss();
  const opt = new Adam(model.parameters(), { lr: 0.05 });
  const x = variable(tensor(oneHot('hi'))); // [T=2, B=1, 3]
  const targets = tensor([VOCAB.indexOf('i'), VOCAB.indexOf('h')], undefined, 'int32'); // "ih"

  const cell = model.gru.cell(0);
  const before = { W: await gateBlocks(cell.W), U: await gateBlocks(cell.U) };
  ctx.log(`before training: ${await predict(model, x, 'ih')}`);

  const losses: number[] = [];
  const progress = new Progress(about.name, ctx.steps, { quiet: ctx.quiet });
  for (let step = 1; step <= ctx.steps; step++) {
    const loss = lossFn.forward(model.forward(x), targets);
    loss.backward(); // through the head, every timestep and every gate
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    loss.dispose();
    progress.update(step, { loss: losses[losses.length - 1], tokens: 2 });
  }
  progress.stop();

  ctx.log(`after training:  ${await predict(model, x, 'ih')}`);
  const after = { W: await gateBlocks(cell.W), U: await gateBlocks(cell.U) };
  const moved = (m: 'W' | 'U') =>
    ['z', 'r', 'h'].map((g, i) => `${m}_${g} ${distance(before[m][i], after[m][i]).toFixed(3)}`);
  ctx.log(`how far each gate's weights moved (L2): ${[...moved('W'), ...moved('U')].join(', ')}`);

  const files = [
    ctx.writeText(
      'loss.svg',
      await lineChart({
        title: 'hi -> ih: training loss',
        xLabel: 'step',
        yLabel: 'cross-entropy (nats, log scale)',
        logY: true,
        series: [{ name: 'loss', y: losses }],
      }),
    ),
    await ctx.saveCheckpoint('hi.safetensors', model),
  ];
  ctx.log(`wrote ${files.join(', ')}`);
  x.dispose();
  targets.dispose();
  opt.dispose();
  return {
    files,
    metrics: { initialLoss: losses[0] ?? Number.NaN, finalLoss: losses[losses.length - 1] ?? Number.NaN },
  };
}
