/**
 * forecast: a GRU forecasts a noisy signal with two seasons (periods 24 and 60, like a daily and a
 * slower cycle), one step ahead and many steps ahead, and is compared with the classic baseline
 * for seasonal data: seasonal naive, which repeats the value one season (24 steps) earlier.
 *
 * Training: windows of the past, and at every step the loss of predicting the next value (MSE).
 * Multi-step forecasts feed the GRU its own predictions back, one step at a time.
 *
 *   pnpm example forecast
 * @module
 */
import { noGrad, type Variable, variable } from '@wgru/autograd';
import { Adam, GRU, Linear, Module, MSELoss } from '@wgru/nn';
import { type Tensor, tensor, tidy } from '@wgru/tensor';
import type { ExampleOptions } from '../lib/args.js';
import { Checkpointer } from '../lib/checkpoint.js';
import { Progress } from '../lib/progress.js';
import { type ExampleResult, rng, setup } from '../lib/setup.js';
import { lineChart } from '../lib/plots.js';

export const about = {
  name: 'forecast',
  description: 'GRU forecasts a noisy two-season signal, one step and 48 steps ahead, against seasonal naive',
  defaultSteps: 300,
};

const N = 3000; // length of the series: the first 80% for training, the rest for testing
const SEASON = 24; // the seasonal-naive baseline's period
const CONTEXT = 72; // how much past the model reads
const HORIZON = 48; // multi-step forecasts go this far
const BATCH = 32;
const HIDDEN = 48;

/** y(t) = sin(2πt/24) + 0.5·sin(2πt/60) + noise with σ = 0.2. */
function makeSeries(random: () => number): Float32Array {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Float32Array.from(
    { length: N },
    (_, t) => Math.sin((2 * Math.PI * t) / 24) + 0.5 * Math.sin((2 * Math.PI * t) / 60) + 0.2 * gauss(),
  );
}

class Forecaster extends Module {
  readonly gru: GRU;
  readonly head: Linear;
  constructor(seed: number) {
    super();
    this.gru = new GRU({ inputSize: 1, hiddenSize: HIDDEN, seed });
    this.head = new Linear(HIDDEN, 1, { seed: seed + 1 });
  }
  /** x: [T, B, 1] -> the prediction of the next value after each step [T, B, 1], and the state. */
  forward(x: Variable, h0?: Variable): { next: Variable; hN: Variable } {
    const { output, hN } = this.gru.forward(x, h0);
    return { next: this.head.forward(output), hN };
  }
}

/** Windows y[s .. s+T) for each start s, as [T, B, 1] (time-major). */
function windows(y: Float32Array, starts: number[], T: number): Tensor {
  const B = starts.length;
  const out = new Float32Array(T * B);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) out[t * B + b] = y[starts[b] + t];
  return tensor(out, [T, B, 1]);
}

/**
 * Forecasts for each origin o (the first unknown index): reads y[o-CONTEXT .. o), then predicts
 * `steps` values, each fed back as the next input. Returns forecasts[b][h] for y[o_b + h].
 */
async function rollout(model: Forecaster, y: Float32Array, origins: number[], steps: number): Promise<number[][]> {
  const B = origins.length;
  let x = windows(
    y,
    origins.map((o) => o - CONTEXT),
    CONTEXT,
  );
  let h: Tensor | undefined;
  const forecasts: number[][] = origins.map(() => []);
  for (let k = 0; k < steps; k++) {
    const [pred, hN] = tidy(() =>
      noGrad(() => {
        const out = model.forward(variable(x), h === undefined ? undefined : variable(h));
        const T = x.shape[0];
        return [out.next.slice([T - 1, 0, 0], [1, B, 1]).value, out.hN.value] as [Tensor, Tensor];
      }),
    );
    const values = await pred.data();
    for (let b = 0; b < B; b++) forecasts[b].push(values[b]);
    for (const t of [x, h]) t?.dispose();
    [x, h] = [pred, hN]; // the prediction is the next input
  }
  x.dispose();
  h?.dispose();
  return forecasts;
}

/** Mean absolute error and root mean squared error of paired lists. */
function errors(pred: number[], truth: number[]): { mae: number; rmse: number } {
  const d = pred.map((p, i) => p - truth[i]);
  return {
    mae: d.reduce((s, v) => s + Math.abs(v), 0) / d.length,
    rmse: Math.sqrt(d.reduce((s, v) => s + v * v, 0) / d.length),
  };
}

export async function run(opts: ExampleOptions = {}): Promise<ExampleResult> {
  const ctx = await setup(about.name, opts, about.defaultSteps);
  const random = rng(ctx.seed);
  const y = makeSeries(random);
  const split = Math.floor(N * 0.8);
  ctx.log(`series: ${N} points (periods 24 and 60, noise σ 0.2); train on [0, ${split}), test on [${split}, ${N})`);

  const model = new Forecaster(ctx.seed);
  const lossFn = new MSELoss();
  const opt = new Adam(model.parameters(), { lr: 5e-3 });
  let losses: number[] = [];
  // --checkpoint-every / --resume: weights, optimizer, losses and the data stream's position.
  const resumable = new Checkpointer<{ losses: number[]; random: number }>(ctx.out, about.name, {
    every: ctx.checkpointEvery,
    resume: ctx.resume,
  });
  const resumed = resumable.resume({ model }, { opt });
  if (resumed !== null) {
    losses = resumed.state.losses;
    random.state = resumed.state.random;
    ctx.log(`resumed after step ${resumed.step}`);
  }
  const progress = new Progress(about.name, ctx.steps, { quiet: ctx.quiet });
  for (let step = (resumed?.step ?? 0) + 1; step <= ctx.steps; step++) {
    // Windows of CONTEXT + 1 values from the training part: inputs and the same shifted by one.
    const starts = Array.from({ length: BATCH }, () => Math.floor(random() * (split - CONTEXT - 1)));
    const inputs = variable(windows(y, starts, CONTEXT));
    const targets = windows(
      y,
      starts.map((s) => s + 1),
      CONTEXT,
    );
    const loss = lossFn.forward(model.forward(inputs).next, variable(targets));
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
    loss.dispose();
    inputs.dispose();
    targets.dispose();
    progress.update(step, { loss: losses[losses.length - 1], tokens: CONTEXT * BATCH });
    if (resumable.due(step)) await resumable.save(step, { model }, { opt }, { losses, random: random.state });
  }
  progress.stop();

  // One step ahead at every test point; many steps ahead from origins spread over the test part.
  const testPoints = Array.from({ length: N - split }, (_, i) => split + i);
  const truth = testPoints.map((t) => y[t]);
  const oneStep = (await rollout(model, y, testPoints, 1)).map((f) => f[0]);
  const naiveOne = testPoints.map((t) => y[t - SEASON]);
  const origins = testPoints.filter((t) => t + HORIZON <= N && (t - split) % 6 === 0);
  const multi = await rollout(model, y, origins, HORIZON);
  // Seasonal naive many steps ahead: the last observed season, repeated.
  const naiveMulti = origins.map((o) => Array.from({ length: HORIZON }, (_, h) => y[o - SEASON + (h % SEASON)]));
  const multiTruth = origins.flatMap((o) => Array.from({ length: HORIZON }, (_, h) => y[o + h]));

  const rows = [
    ['GRU, 1 step ahead', errors(oneStep, truth)],
    ['seasonal naive, 1 step ahead', errors(naiveOne, truth)],
    [`GRU, 1..${HORIZON} steps ahead`, errors(multi.flat(), multiTruth)],
    [`seasonal naive, 1..${HORIZON} steps ahead`, errors(naiveMulti.flat(), multiTruth)],
  ] as const;
  ctx.log(
    `\nerrors on the test part (noise alone would give MAE ${(0.2 * Math.sqrt(2 / Math.PI)).toFixed(3)}, RMSE 0.200):`,
  );
  ctx.log(`${'forecast'.padEnd(34)}  ${'MAE'.padStart(6)}  ${'RMSE'.padStart(6)}`);
  for (const [name, e] of rows)
    ctx.log(`${name.padEnd(34)}  ${e.mae.toFixed(3).padStart(6)}  ${e.rmse.toFixed(3).padStart(6)}`);

  // Pictures: one origin's 48-step forecast, and the one-step forecasts over part of the test set.
  const o = origins[Math.floor(origins.length / 2)];
  const k = origins.indexOf(o);
  const past = Array.from({ length: CONTEXT }, (_, i) => o - CONTEXT + i);
  const ahead = Array.from({ length: HORIZON }, (_, h) => o + h);
  const shown = testPoints.slice(0, 200);
  const files = [
    ctx.writeText(
      'forecast.svg',
      await lineChart({
        title: `forecast: ${HORIZON} steps ahead from t = ${o}`,
        xLabel: 't',
        yLabel: 'y',
        series: [
          { name: 'observed', x: [...past, ...ahead], y: [...past, ...ahead].map((t) => y[t]), color: '#444' },
          { name: 'GRU forecast', x: ahead, y: multi[k], color: '#d62728' },
          { name: 'seasonal naive', x: ahead, y: naiveMulti[k], color: '#1f77b4', dashed: true },
        ],
      }),
    ),
    ctx.writeText(
      'one-step.svg',
      await lineChart({
        title: 'forecast: one step ahead on the test part',
        xLabel: 't',
        yLabel: 'y',
        series: [
          { name: 'observed', x: shown, y: shown.map((t) => y[t]), color: '#444' },
          { name: 'GRU, 1 step ahead', x: shown, y: oneStep.slice(0, shown.length), color: '#d62728' },
        ],
      }),
    ),
    ctx.writeText(
      'loss.svg',
      await lineChart({
        title: 'forecast: training loss',
        xLabel: 'step',
        yLabel: 'MSE',
        series: [{ name: 'train', y: losses }],
      }),
    ),
    await ctx.saveCheckpoint('forecast.safetensors', model),
  ];
  ctx.log(`wrote ${files.join(', ')}`);
  opt.dispose();
  const [gru1, naive1, gruH, naiveH] = rows.map(([, e]) => e);
  return {
    files,
    metrics: {
      oneStepMAE: gru1.mae,
      oneStepRMSE: gru1.rmse,
      naiveOneStepRMSE: naive1.rmse,
      multiStepRMSE: gruH.rmse,
      naiveMultiStepRMSE: naiveH.rmse,
      multiStepMAE: gruH.mae,
      naiveMultiStepMAE: naiveH.mae,
    },
  };
}
