/**
 * The recall task of the `dependency` example, and what it measures about a trained model.
 *
 * A sequence is a signal (A, B, C or D), then D distractors (w, x, y, z), then the query '?'. Only
 * the answer after the query is scored: the first symbol. To answer, a network must write the
 * signal into its state at t = 0 and keep it there through D steps of noise, so D is exactly the
 * distance a dependency has to span.
 * @module
 */
import { forwardCall, noGrad, type Variable, variable } from '@wgru/autograd';
import { CrossEntropyLoss, GRU, Linear, LSTM, Module, RNN } from '@wgru/nn';
import { argmax, type Tensor, tensor, tidy, zeros } from '@wgru/tensor';

const SIGNALS = ['A', 'B', 'C', 'D'];
const DISTRACTORS = ['w', 'x', 'y', 'z'];
const SYMBOLS = [...SIGNALS, ...DISTRACTORS, '?'];

/** The recurrent layers compared: a tanh RNN, the GRU in both reset placements, and the LSTM. */
export const KINDS = ['RNN', 'GRU', 'GRU (reset after)', 'LSTM'] as const;
export type Kind = (typeof KINDS)[number];

/** `B` random sequences with `D` distractors: one-hot inputs [D + 2, B, 9] and the signals [B]. */
export function recallBatch(D: number, B: number, random: () => number): { x: Tensor; y: Tensor; text: string[] } {
  const pick = (from: string[]) => from[Math.floor(random() * from.length)] ?? '';
  const text = Array.from(
    { length: B },
    () => `${pick(SIGNALS)}${Array.from({ length: D }, () => pick(DISTRACTORS)).join('')}?`,
  );
  const T = D + 2;
  const x = new Float32Array(T * B * SYMBOLS.length);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) x[(t * B + b) * SYMBOLS.length + SYMBOLS.indexOf(text[b]?.[t] ?? '?')] = 1;
  const y = Int32Array.from(text, (s) => SIGNALS.indexOf(s[0] ?? 'A'));
  return { x: tensor(x, [T, B, SYMBOLS.length]), y: tensor(y, [B], 'int32'), text };
}

/** A recurrent layer of one kind and a linear read-out of its last state: [T, B, 9] -> logits [B, 4]. */
export class Recall extends Module {
  readonly rnn: RNN | GRU | LSTM;
  readonly head: Linear;
  constructor(
    readonly kind: Kind,
    readonly hiddenSize: number,
    seed: number,
  ) {
    super();
    const opts = { inputSize: SYMBOLS.length, hiddenSize, seed };
    this.rnn =
      kind === 'RNN'
        ? new RNN(opts)
        : kind === 'LSTM'
          ? new LSTM(opts)
          : new GRU({ ...opts, resetAfter: kind === 'GRU (reset after)' });
    this.head = new Linear(hiddenSize, SIGNALS.length, { seed: seed + 1 });
  }

  forward(x: Variable): Variable {
    const { hN } = this.rnn.forward(x);
    return this.head.forward(hN.reshape([x.shape[1] ?? 1, this.hiddenSize]));
  }

  /**
   * Gates that remember by default, the usual start for gated units: a GRU's update gate bias
   * b_z = −2 (z ≈ 0.12, so h_t ≈ h_{t−1}) and an LSTM's forget gate bias b_f = +2 (f ≈ 0.88). The
   * tanh RNN has no gate to set.
   */
  async openMemory(): Promise<void> {
    if (this.kind === 'RNN') return;
    const H = this.hiddenSize;
    const cell = this.rnn.cell(0);
    const b = Float32Array.from(await (cell.b as Variable).data());
    if (this.kind === 'LSTM') b.fill(2, H, 2 * H);
    else b.fill(-2, 0, H);
    cell.loadStateDict({ b }, { strict: false });
  }
}

/** The hidden size that gives a model of this kind the parameter count closest to `budget`. */
export function hiddenSizeFor(kind: Kind, budget: number): number {
  const count = (H: number) => {
    const I = SYMBOLS.length;
    const head = H * SIGNALS.length + SIGNALS.length;
    // W [I, gH], U [H, gH], b [gH] for g gates (+ c [H] for the GRU with the reset after U)
    const gates = kind === 'RNN' ? 1 : kind === 'LSTM' ? 4 : 3;
    return gates * (I * H + H * H + H) + (kind === 'GRU (reset after)' ? H : 0) + head;
  };
  let best = 1;
  for (let H = 1; H <= 512; H++) if (Math.abs(count(H) - budget) < Math.abs(count(best) - budget)) best = H;
  return best;
}

/** The share of `set` a model recalls correctly. */
export async function accuracy(model: Recall, set: { x: Tensor; y: Tensor }): Promise<number> {
  const guess = tidy(() => argmax(noGrad(() => model.forward(variable(set.x))).value, 1));
  const [g, want] = [await guess.data(), await set.y.data()];
  guess.dispose();
  return g.filter((v, i) => v === want[i]).length / g.length;
}

/** What one pass over a sequence batch says about gradients and gates, step by step. */
export interface Flow {
  /** ‖∂L/∂h_t‖ for t = 0 .. T−1, each the mean over the batch of one sequence's norm. */
  gradNorm: number[];
  /** The final state of the step-by-step pass against the layer's own forward: max |difference|. */
  checkMaxDiff: number;
  /** GRU: the update gate z_t of every unit, averaged over the batch and over the distractor steps. */
  meanUpdateGate: number[] | null;
}

/**
 * ‖∂L/∂h_t‖ for every t, from the tape. The layer's cell is run step by step (its own `project`
 * and `step`, the code the layer runs) and a zero "probe" p_t is added to each state,
 * h'_t = h_t + p_t: the probes change no value, and ∂L/∂p_t = ∂L/∂h_t, which backward() leaves in
 * p_t.grad like any leaf's gradient.
 */
export async function gradientFlow(model: Recall, set: { x: Tensor; y: Tensor }): Promise<Flow> {
  const [T, B] = set.x.shape as [number, number, number];
  const cell = model.rnn.cell(0);
  const H = model.hiddenSize;
  const probes = Array.from({ length: T }, () => variable(zeros([B, H]), { requiresGrad: true }));
  const x = variable(set.x);
  const initial = Array.from({ length: cell.stateCount }, () => variable(zeros([B, H])));
  // The layer's forward, step by step, run as a forward (forwardCall, as Module runs one): what it
  // makes on the way is freed by backward(); what it returns stays readable until disposed below.
  const { xp, hs, loss } = forwardCall(() => {
    const xp = cell.project(x);
    const G = xp.shape[2] ?? 0;
    let state = initial;
    const hs: Variable[] = [];
    for (let t = 0; t < T; t++) {
      const next = cell.step(xp.slice([t, 0, 0], [1, B, G]).reshape([B, G]), state);
      state = [(next[0] as Variable).add(probes[t] as Variable), ...next.slice(1)];
      hs.push(state[0] as Variable);
    }
    const loss = new CrossEntropyLoss().forward(model.head.forward(state[0] as Variable), set.y);
    return { xp, hs, loss };
  });
  const last = hs[T - 1] as Variable;
  // Read what is needed from the forward pass before backward() frees its intermediates.
  // The update gate, recomputed from the cell's parameters: z_t = σ(x_t W_z + b_z + h_{t−1} U_z)
  let meanUpdateGate: number[] | null = null;
  if (model.kind === 'GRU' || model.kind === 'GRU (reset after)') {
    // In a tidy scope: the per-step gates are freed, only their mean is kept.
    const z = tidy(() =>
      noGrad(() => {
        const Uz = (cell as unknown as { U: Variable }).U.slice([0, 0], [H, H]);
        const perStep = hs.slice(0, T - 2).map((prev, t) =>
          xp
            .slice([t + 1, 0, 0], [1, B, H])
            .reshape([B, H])
            .add(prev.matmul(Uz))
            .sigmoid(),
        );
        return perStep
          .reduce((a, b) => a.add(b))
          .div(T - 2)
          .mean(0).value;
      }),
    );
    meanUpdateGate = Array.from(await z.data());
    z.dispose();
  }
  // The same final state from the layer's forward: the step-by-step pass is the layer's own.
  // In a tidy scope: the layer's output and the stacked hN are freed, only the reshaped copy kept.
  const hN = tidy(() => noGrad(() => model.rnn.forward(variable(set.x)).hN.reshape([B, H]).value));
  const [a, b] = [await last.data(), await hN.data()];
  let checkMaxDiff = 0;
  a.forEach((v, i) => {
    checkMaxDiff = Math.max(checkMaxDiff, Math.abs(v - (b[i] ?? 0)));
  });
  hN.dispose();
  loss.backward();
  const gradNorm: number[] = [];
  for (const p of probes) {
    const g = p.grad as Tensor;
    const norm = tidy(() => noGrad(() => variable(g).mul(variable(g)).sum(1).sqrt().mean().value));
    gradNorm.push((await norm.data())[0] ?? Number.NaN);
    norm.dispose();
  }
  for (const v of [...probes, ...initial, ...hs, xp, loss]) v.dispose(); // not x: its tensor is the caller's
  return { gradNorm, checkMaxDiff, meanUpdateGate };
}
