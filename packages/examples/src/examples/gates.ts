/**
 * gates: a picture of a GRU's memory. The task: the first symbol of a sequence (A, B, C or D) must
 * be recalled at its end, after a long stretch of random distractors (w, x, y, z). Only the last
 * step is scored, so the GRU has to learn to write the symbol into its state and then keep it.
 *
 * After training, the gates are computed from the cell's equations, step by step, with the
 * trained weights, and drawn as heatmaps (hidden units × time) with the state itself. The update
 * gate z decides how much of each unit is rewritten, h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t: the
 * units that carry the memory learn to keep z near 0 whatever the distractors are, so that what
 * the first symbol set in motion is not washed out, while other units keep rewriting.
 *
 *   pnpm example gates
 * @module
 */
import { noGrad, type Variable, variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, GRU, Linear, Module } from '@wgru/nn';
import { argmax, type Tensor, tensor, tidy } from '@wgru/tensor';
import type { ExampleOptions } from '../lib/args.js';
import { Progress } from '../lib/progress.js';
import { type ExampleResult, rng, setup } from '../lib/setup.js';
import { heatmap, lineChart } from '../lib/plots.js';

export const about = {
  name: 'gates',
  description: 'GRU remembers the first symbol across 30 distractors; heatmaps of its update and reset gates',
  defaultSteps: 300,
};

const SIGNALS = ['A', 'B', 'C', 'D'];
const SYMBOLS = [...SIGNALS, 'w', 'x', 'y', 'z', '?'];
const DISTRACTORS = 30;
const T = DISTRACTORS + 2; // the signal, the distractors, then '?' asks for the signal
const HIDDEN = 16;
const BATCH = 64;

/** `B` random sequences: one-hot inputs [T, B, 9] and the first symbol of each as the target. */
function makeBatch(B: number, random: () => number): { x: Tensor; y: Tensor; text: string[] } {
  const pick = (from: string[]) => from[Math.floor(random() * from.length)];
  const text = Array.from(
    { length: B },
    () => `${pick(SIGNALS)}${Array.from({ length: DISTRACTORS }, () => pick(['w', 'x', 'y', 'z'])).join('')}?`,
  );
  const x = new Float32Array(T * B * SYMBOLS.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) x[(t * B + b) * SYMBOLS.length + SYMBOLS.indexOf(text[b][t])] = 1;
  return {
    x: tensor(x, [T, B, SYMBOLS.length]),
    y: tensor(
      Int32Array.from(text, (s) => SIGNALS.indexOf(s[0])),
      [B],
      'int32',
    ),
    text,
  };
}

class Recall extends Module {
  readonly gru: GRU;
  readonly head: Linear;
  constructor(seed: number) {
    super();
    this.gru = new GRU({ inputSize: SYMBOLS.length, hiddenSize: HIDDEN, seed });
    this.head = new Linear(HIDDEN, SIGNALS.length, { seed: seed + 1 });
  }
  /** x: [T, B, 9] -> logits over A..D from the last state [B, 4]. */
  forward(x: Variable): Variable {
    const { hN } = this.gru.forward(x);
    return this.head.forward(hN.reshape([x.shape[1], HIDDEN]));
  }
}

/**
 * Runs the GRU cell's equations one step at a time with the trained weights, for one sequence
 * x [T, 1, 9], and returns the update gate, reset gate and state at every step (each [1, H]).
 */
function gatesOf(model: Recall, x: Tensor): { z: Tensor[]; r: Tensor[]; h: Tensor[] } {
  const { W, U, b } = model.gru.cell(0);
  const [H, I] = [HIDDEN, SYMBOLS.length];
  const all = tidy(() =>
    noGrad(() => {
      // The weights of each gate: columns z | r | h of W [I, 3H], U [H, 3H] and b [3H].
      const [Wz, Wr, Wh] = [0, 1, 2].map((g) => W.slice([0, g * H], [I, H])) as [Variable, Variable, Variable];
      const [Uz, Ur, Uh] = [0, 1, 2].map((g) => U.slice([0, g * H], [H, H])) as [Variable, Variable, Variable];
      const [bz, br, bh] = [0, 1, 2].map((g) => (b as Variable).slice([g * H], [H])) as [Variable, Variable, Variable];
      let h = variable(tensor(new Float32Array(H), [1, H]));
      const gates: Tensor[] = [];
      for (let t = 0; t < T; t++) {
        const xt = variable(x).slice([t, 0, 0], [1, 1, I]).reshape([1, I]);
        // z_t = σ(x_t W_z + h_{t-1} U_z + b_z)
        const z = xt.matmul(Wz).add(h.matmul(Uz)).add(bz).sigmoid();
        // r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
        const r = xt.matmul(Wr).add(h.matmul(Ur)).add(br).sigmoid();
        // h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h)
        const hTilde = xt.matmul(Wh).add(r.mul(h).matmul(Uh)).add(bh).tanh();
        // h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
        h = z.neg().add(1).mul(h).add(z.mul(hTilde));
        gates.push(z.value, r.value, h.value);
      }
      return gates;
    }),
  );
  return {
    z: all.filter((_, i) => i % 3 === 0),
    r: all.filter((_, i) => i % 3 === 1),
    h: all.filter((_, i) => i % 3 === 2),
  };
}

export async function run(opts: ExampleOptions = {}): Promise<ExampleResult> {
  const ctx = await setup(about.name, opts, about.defaultSteps);
  const random = rng(ctx.seed);
  const model = new Recall(ctx.seed);
  // Start with the update gates mostly shut (b_z = -2, so z ≈ 0.12): by default a unit keeps its
  // state, the first symbol's trace survives the distractors, and gradients can find it (the
  // GRU's version of an LSTM's forget-gate bias).
  const cell = model.gru.cell(0);
  const bias = Float32Array.from(await (cell.b as Variable).data()).fill(-2, 0, HIDDEN);
  cell.loadStateDict({ b: bias }, { strict: false });
  const lossFn = new CrossEntropyLoss();
  const opt = new Adam(model.parameters(), { lr: 1e-2 });
  ctx.log(`task: recall the first of ${T} symbols; chance is 25% (loss ln 4 = ${Math.log(4).toFixed(3)})`);

  const losses: number[] = [];
  const progress = new Progress(about.name, ctx.steps, { quiet: ctx.quiet });
  for (let step = 1; step <= ctx.steps; step++) {
    const { x, y } = makeBatch(BATCH, random);
    const loss = lossFn.forward(model.forward(variable(x)), y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    for (const t of [loss, x, y]) t.dispose();
    progress.update(step, { loss: losses[losses.length - 1], tokens: BATCH * T });
  }
  progress.stop();

  // Accuracy on fresh sequences.
  const test = makeBatch(500, random);
  const guess = tidy(() => argmax(noGrad(() => model.forward(variable(test.x))).value, 1));
  const [g, want] = [await guess.data(), await test.y.data()];
  const accuracy = g.filter((v, i) => v === want[i]).length / g.length;
  ctx.log(`recall accuracy on 500 new sequences: ${(accuracy * 100).toFixed(1)}%`);
  for (const t of [guess, test.x, test.y]) t.dispose();

  // The gates of one sequence, from the equations; its final state must match GRU.forward's.
  const sample = makeBatch(1, random);
  const { z, r, h } = gatesOf(model, sample.x);
  const hGRU = tidy(() => noGrad(() => model.gru.forward(variable(sample.x)).hN.value));
  const [h1, h2] = [await h[T - 1].data(), await hGRU.data()];
  ctx.log(
    `step-by-step equations vs GRU.forward, final state: max |difference| ` +
      `${Math.max(...h1.map((v, i) => Math.abs(v - h2[i]))).toExponential(1)}`,
  );
  const rows = async (gates: Tensor[]) => {
    const perStep = await Promise.all(gates.map((t) => t.data()));
    return Array.from({ length: HIDDEN }, (_, unit) => perStep.map((d) => d[unit])); // [unit][time]
  };
  const [zRows, rRows, hRows] = [await rows(z), await rows(r), await rows(h)];
  // Units sorted by their mean update gate over the distractors: the memory keepers come first.
  const meanZ = (u: number) => zRows[u].slice(1, T - 1).reduce((a, v) => a + v, 0) / DISTRACTORS;
  const order = Array.from({ length: HIDDEN }, (_, u) => u).sort((a, b) => meanZ(a) - meanZ(b));
  ctx.log(
    `sample "${sample.text[0]}": mean z over the distractors per unit: ` +
      `${order.map((u) => meanZ(u).toFixed(2)).join(' ')}`,
  );
  for (const t of [...z, ...r, ...h, hGRU, sample.x, sample.y]) t.dispose();

  const files = [
    ctx.writeText(
      'gates.svg',
      await heatmap({
        title: `GRU gates while recalling "${sample.text[0][0]}" across ${DISTRACTORS} distractors`,
        subtitle: [
          'one row per hidden unit, sorted by its mean update gate over the distractors:',
          'the units that keep their state come first',
        ],
        panels: [
          { title: 'update gate z_t  (0: keep the unit, 1: rewrite it)', values: order.map((u) => zRows[u]) },
          { title: 'reset gate r_t  (how much of h_{t-1} the candidate sees)', values: order.map((u) => rRows[u]) },
          {
            title: 'state h_t  (what the output layer reads at the last step)',
            values: order.map((u) => hRows[u]),
            min: -1,
            max: 1,
          },
        ],
        xLabel: 'time step (input symbol)',
        yLabel: 'hidden unit',
        colLabels: [...sample.text[0]],
        rowLabels: order.map(String),
        cell: 14,
      }),
    ),
    ctx.writeText(
      'loss.svg',
      await lineChart({
        title: 'gates: training loss',
        xLabel: 'step',
        yLabel: 'cross-entropy (nats, log scale)',
        logY: true,
        series: [
          { name: 'train', y: losses },
          { name: 'chance (ln 4)', x: [1, losses.length], y: [Math.log(4), Math.log(4)], dashed: true, color: '#777' },
        ],
      }),
    ),
    await ctx.saveCheckpoint('gates.safetensors', model),
  ];
  ctx.log(`wrote ${files.join(', ')}`);
  opt.dispose();
  return { files, metrics: { accuracy, finalLoss: losses[losses.length - 1] ?? Number.NaN } };
}
