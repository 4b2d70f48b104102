/**
 * seq2seq: an encoder-decoder GRU translates dates as people write them ("March 4, 1997",
 * "4 March 1997", "Mar 4, 1997") into ISO 8601 ("1997-03-04"). The encoder GRU reads the
 * characters; its last state c summarises the input and is all the decoder gets: as in Cho et al.
 * (2014), the paper that introduced the GRU, c is both the decoder's initial state and part of its
 * input at every step. Training uses teacher forcing (the decoder reads the true previous
 * character); testing uses greedy decoding (it reads its own best guess). Dates are generated on
 * the fly; the test dates are never trained on.
 *
 *   pnpm example seq2seq
 * @module
 */
import { concat, noGrad, type Variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, clipGradNorm, Embedding, GRU, Linear, Module } from '@wgru/nn';
import { argmax, reshape, type Tensor, tensor, tidy } from '@wgru/tensor';
import type { ExampleOptions } from '../lib/args.js';
import { Checkpointer } from '../lib/checkpoint.js';
import { Progress } from '../lib/progress.js';
import { type ExampleResult, rng, setup } from '../lib/setup.js';
import { lineChart } from '../lib/plots.js';

export const about = {
  name: 'seq2seq',
  description:
    'encoder-decoder GRU translates "March 4, 1997" into "1997-03-04"; exact-match accuracy with greedy decoding',
  defaultSteps: 400,
};

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const IN_VOCAB = ['<pad>', ...' ,0123456789', ...new Set(MONTHS.join(''))];
const OUT_VOCAB = ['<start>', ...'0123456789-'];
const OUT_LEN = 10; // "YYYY-MM-DD"
const BATCH = 64;
const EMBED = 32;
const HIDDEN = 128;
const EVAL_EVERY = 50;

/** A random date from 1900 to 2099, written one of three ways, and its ISO form. */
function randomDate(random: () => number): { written: string; iso: string } {
  const day = new Date(Date.UTC(1900, 0, 1) + Math.floor(random() * 73_049) * 86_400_000);
  const [y, m, d] = [day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()];
  const month = MONTHS[m];
  const formats = [`${month} ${d}, ${y}`, `${d} ${month} ${y}`, `${month.slice(0, 3)} ${d}, ${y}`];
  const written = formats[Math.floor(random() * formats.length)];
  return { written, iso: `${y}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}` };
}

class DateTranslator extends Module {
  readonly srcEmbed: Embedding;
  readonly encoder: GRU;
  readonly tgtEmbed: Embedding;
  readonly decoder: GRU;
  readonly head: Linear;
  constructor(seed: number) {
    super();
    this.srcEmbed = new Embedding(IN_VOCAB.length, EMBED, { seed });
    this.encoder = new GRU({ inputSize: EMBED, hiddenSize: HIDDEN, seed: seed + 1 });
    this.tgtEmbed = new Embedding(OUT_VOCAB.length, EMBED, { seed: seed + 2 });
    this.decoder = new GRU({ inputSize: EMBED + HIDDEN, hiddenSize: HIDDEN, seed: seed + 3 });
    this.head = new Linear(HIDDEN, OUT_VOCAB.length, { seed: seed + 4 });
  }
  /** Source ids [S, B] (padded; `lengths` per sequence) -> the encoder's final state [1, B, H]. */
  encode(src: Tensor, lengths: Int32Array): Variable {
    return this.encoder.forward(this.srcEmbed.forward(src), undefined, { lengths }).hN;
  }
  /** Decoder inputs [T, B], the summary c [1, B, H] and state h -> logits [T·B, vocab], new state. */
  decode(inputs: Tensor, c: Variable, h: Variable): { logits: Variable; h: Variable } {
    const [T, B] = inputs.shape as [number, number];
    // each step reads [embedding of the previous character, c]: [T, B, EMBED + HIDDEN]
    const x = concat([this.tgtEmbed.forward(inputs), concat(new Array<Variable>(T).fill(c), 0)], 2);
    const { output, hN } = this.decoder.forward(x, h);
    return { logits: this.head.forward(output.reshape([T * B, HIDDEN])), h: hN };
  }
  /** Training with teacher forcing: the decoder reads the true previous characters decIn [10, B]. */
  forward(src: Tensor, lengths: Int32Array, decIn: Tensor): Variable {
    const c = this.encode(src, lengths);
    return this.decode(decIn, c, c).logits;
  }
}

/** A batch as tensors: padded sources [S, B] with lengths, decoder inputs and targets [10, B]. */
function encodeBatch(pairs: { written: string; iso: string }[]) {
  const B = pairs.length;
  const S = Math.max(...pairs.map((p) => p.written.length));
  const src = new Int32Array(S * B); // <pad> = 0
  const decIn = new Int32Array(OUT_LEN * B);
  const tgt = new Int32Array(OUT_LEN * B);
  pairs.forEach(({ written, iso }, b) => {
    for (let s = 0; s < written.length; s++) src[s * B + b] = IN_VOCAB.indexOf(written[s]);
    for (let t = 0; t < OUT_LEN; t++) {
      tgt[t * B + b] = OUT_VOCAB.indexOf(iso[t]);
      // teacher forcing: the decoder reads <start>, then the true previous character
      decIn[t * B + b] = t === 0 ? 0 : OUT_VOCAB.indexOf(iso[t - 1]);
    }
  });
  return {
    src: tensor(src, [S, B], 'int32'),
    lengths: Int32Array.from(pairs, (p) => p.written.length),
    decIn: tensor(decIn, [OUT_LEN, B], 'int32'),
    tgt: tensor(tgt, [OUT_LEN * B], 'int32'),
  };
}

/** Greedy decoding: each step's most likely character is the next step's input. */
async function translate(model: DateTranslator, written: string[]): Promise<string[]> {
  const B = written.length;
  const { src, lengths, decIn, tgt } = encodeBatch(written.map((w) => ({ written: w, iso: '0000-00-00' })));
  const chosen = tidy(() =>
    noGrad(() => {
      const c = model.encode(src, lengths);
      let h = c;
      let input = tensor(new Int32Array(B), [1, B], 'int32'); // <start>
      const out: Tensor[] = [];
      for (let t = 0; t < OUT_LEN; t++) {
        const step = model.decode(input, c, h);
        h = step.h;
        input = reshape(argmax(step.logits.value, 1), [1, B]);
        out.push(input);
      }
      return out;
    }),
  );
  const ids = await Promise.all(chosen.map((t) => t.data()));
  for (const t of [src, decIn, tgt, ...chosen]) t.dispose();
  return written.map((_, b) => ids.map((row) => OUT_VOCAB[row[b]]).join(''));
}

export async function run(opts: ExampleOptions = {}): Promise<ExampleResult> {
  const ctx = await setup(about.name, opts, about.defaultSteps);
  const random = rng(ctx.seed);
  const model = new DateTranslator(ctx.seed);
  const lossFn = new CrossEntropyLoss();
  const opt = new Adam(model.parameters(), { lr: 5e-3 });
  // Test dates first, kept out of training.
  const test = Array.from({ length: 500 }, () => randomDate(random));
  const testSet = new Set(test.map((p) => p.written));
  const freshDates = (n: number) => {
    const out: { written: string; iso: string }[] = [];
    while (out.length < n) {
      const p = randomDate(random);
      if (!testSet.has(p.written)) out.push(p);
    }
    return out;
  };
  const accuracy = async (pairs: typeof test) => {
    const guesses = await translate(
      model,
      pairs.map((p) => p.written),
    );
    return { guesses, accuracy: guesses.filter((g, i) => g === pairs[i]?.iso).length / pairs.length };
  };

  ctx.log(`model: ${model.numParameters()} parameters; ${BATCH} fresh dates per step; ${test.length} test dates`);

  let losses: number[] = [];
  let accCurve: { step: number; acc: number }[] = [];
  // --checkpoint-every / --resume: weights, optimizer, curves and the data stream's position.
  type LoopState = { losses: number[]; accCurve: { step: number; acc: number }[]; random: number };
  const resumable = new Checkpointer<LoopState>(ctx.out, about.name, {
    every: ctx.checkpointEvery,
    resume: ctx.resume,
  });
  const resumed = resumable.resume({ model }, { opt });
  if (resumed !== null) {
    ({ losses, accCurve } = resumed.state);
    random.state = resumed.state.random;
    ctx.log(`resumed after step ${resumed.step}`);
  }
  const progress = new Progress(about.name, ctx.steps, { quiet: ctx.quiet });
  for (let step = (resumed?.step ?? 0) + 1; step <= ctx.steps; step++) {
    const { src, lengths, decIn, tgt } = encodeBatch(freshDates(BATCH));
    const loss = lossFn.forward(model.forward(src, lengths, decIn), tgt);
    loss.backward();
    await clipGradNorm(model.parameters(), 1.0);
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    for (const t of [loss, src, decIn, tgt]) t.dispose();
    progress.update(step, { loss: losses[losses.length - 1], tokens: BATCH * OUT_LEN });
    if (step % EVAL_EVERY === 0 && step < ctx.steps) {
      const { accuracy: acc } = await accuracy(test.slice(0, 200));
      accCurve.push({ step, acc });
      progress.log(
        `step ${step}: loss ${losses[losses.length - 1]?.toFixed(4)}, exact match on 200 test dates ` +
          `${(acc * 100).toFixed(1)}%`,
      );
    }
    if (resumable.due(step)) await resumable.save(step, { model }, { opt }, { losses, accCurve, random: random.state });
  }
  progress.stop();

  const { guesses, accuracy: testAccuracy } = await accuracy(test);
  accCurve.push({ step: ctx.steps, acc: testAccuracy });
  ctx.log(
    `\nexact-match accuracy on ${test.length} unseen dates (greedy decoding): ${(testAccuracy * 100).toFixed(1)}%`,
  );
  for (const [i, p] of test.slice(0, 8).entries())
    ctx.log(`  ${p.written.padEnd(20)} -> ${guesses[i]}  ${guesses[i] === p.iso ? 'ok' : `(want ${p.iso})`}`);

  const files = [
    ctx.writeText(
      'loss.svg',
      await lineChart({
        title: 'seq2seq: training loss',
        xLabel: 'step',
        yLabel: 'cross-entropy per character (nats)',
        series: [{ name: 'train', y: losses }],
      }),
    ),
    ctx.writeText(
      'accuracy.svg',
      await lineChart({
        title: 'seq2seq: exact match on unseen dates, greedy decoding',
        xLabel: 'step',
        yLabel: 'accuracy (%)',
        series: [
          {
            name: '200 test dates (500 at the end)',
            x: accCurve.map((a) => a.step),
            y: accCurve.map((a) => a.acc * 100),
            points: true,
          },
        ],
      }),
    ),
    await ctx.saveCheckpoint('seq2seq.safetensors', model),
  ];
  ctx.log(`wrote ${files.join(', ')}`);
  opt.dispose();
  return { files, metrics: { accuracy: testAccuracy, finalLoss: losses[losses.length - 1] ?? Number.NaN } };
}
