/**
 * The playground's model and training step, in plain wgru: a character-level language model
 * Embedding -> GRU -> Linear, trained with cross-entropy and Adam on random windows of the corpus.
 * Nothing here knows about the page or the worker, so it runs the same in Node.
 * @module
 */
import { concat, noGrad, type Variable, variable } from '@wgru/autograd';
import {
  Adam,
  CrossEntropyLoss,
  clipGradNorm,
  decodeSafetensors,
  Embedding,
  GRU,
  Linear,
  Module,
  saveSafetensors,
} from '@wgru/nn';
import {
  add,
  argmax,
  concat as concatTensors,
  div,
  log,
  neg,
  type Tensor,
  tensor,
  tidy,
  uniform,
  zeros,
} from '@wgru/tensor';

/** Characters per training window (backpropagation through time over this many steps). */
const SEQ_LEN = 32;
/** Windows per batch. */
const BATCH = 16;
/** Size of the character embeddings fed to the GRU. */
const EMBED_DIM = 24;
/** Global gradient norm limit (exploding gradients are the classic RNN failure). */
const CLIP_NORM = 5;

/** The characters of a text, sorted, with their indices. */
export class Vocab {
  readonly chars: readonly string[];
  readonly #index: Map<string, number>;

  constructor(text: string) {
    this.chars = [...new Set(text)].sort();
    this.#index = new Map(this.chars.map((c, i) => [c, i]));
  }

  get size(): number {
    return this.chars.length;
  }

  /** Indices of the characters of `s`; characters the corpus never uses become spaces. */
  encode(s: string): Int32Array {
    const space = this.#index.get(' ') ?? 0;
    return Int32Array.from([...s], (c) => this.#index.get(c) ?? space);
  }

  decode(ids: ArrayLike<number>): string {
    return Array.from(ids, (i) => this.chars[i] ?? '?').join('');
  }
}

/** Embedding -> one-layer GRU -> Linear, over windows laid out time-major [T, B]. */
export class CharGRU extends Module {
  readonly embed: Embedding;
  readonly gru: GRU;
  readonly head: Linear;

  constructor(
    readonly vocabSize: number,
    readonly hiddenSize: number,
    seed = 0,
  ) {
    super();
    this.embed = new Embedding(vocabSize, EMBED_DIM, { seed });
    this.gru = new GRU({ inputSize: EMBED_DIM, hiddenSize, seed: seed + 1 });
    this.head = new Linear(hiddenSize, vocabSize, { seed: seed + 99 });
  }

  /** ids: int32 [T, B] -> logits [T·B, vocabSize] (row t·B + b is window b after t+1 characters). */
  forward(ids: Tensor): Variable {
    const [T, B] = ids.shape as [number, number];
    const { output, hN } = this.gru.forward(this.embed.forward(ids)); // output [T, B, H]
    hN.dispose(); // the final state is not used: each batch starts from zeros
    return this.head.forward(output.reshape([T * B, this.hiddenSize]));
  }
}

/** A small seeded generator (mulberry32) for choosing training windows reproducibly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Update and reset gate activations for a string, each [length, hiddenSize] row-major. */
export interface GateMaps {
  z: Float32Array;
  r: Float32Array;
}

/** The model, its optimizer and the data, stepped one batch at a time. */
export class Trainer {
  readonly model: CharGRU;
  readonly #opt: Adam;
  readonly #lossFn = new CrossEntropyLoss();
  readonly #data: Int32Array;
  readonly #random: () => number;
  step = 0;

  constructor(
    readonly vocab: Vocab,
    corpus: string,
    opts: { hiddenSize: number; learningRate: number; seed?: number },
  ) {
    const seed = opts.seed ?? 0;
    this.#data = vocab.encode(corpus);
    if (this.#data.length < SEQ_LEN + 2)
      throw new Error(`Trainer: the corpus needs more than ${SEQ_LEN + 1} characters`);
    this.#random = mulberry32(seed + 7);
    this.model = new CharGRU(vocab.size, opts.hiddenSize, seed);
    this.#opt = new Adam(this.model.parameters(), { lr: opts.learningRate });
  }

  get learningRate(): number {
    return this.#opt.lr;
  }
  set learningRate(lr: number) {
    this.#opt.lr = lr;
  }

  /** BATCH random windows: inputs [T, B] and the next character of each, flattened to [T·B]. */
  #batch(): { inputs: Tensor; targets: Tensor } {
    const inputs = new Int32Array(SEQ_LEN * BATCH);
    const targets = new Int32Array(SEQ_LEN * BATCH);
    for (let b = 0; b < BATCH; b++) {
      const start = Math.floor(this.#random() * (this.#data.length - SEQ_LEN - 1));
      for (let t = 0; t < SEQ_LEN; t++) {
        inputs[t * BATCH + b] = this.#data[start + t];
        targets[t * BATCH + b] = this.#data[start + t + 1];
      }
    }
    return { inputs: tensor(inputs, [SEQ_LEN, BATCH], 'int32'), targets: tensor(targets, [SEQ_LEN * BATCH], 'int32') };
  }

  /** One step of Adam on a fresh batch; resolves to the batch's mean loss (nats per character). */
  async trainStep(): Promise<{ loss: number; gradNorm: number }> {
    const { inputs, targets } = this.#batch();
    const loss = this.#lossFn.forward(this.model.forward(inputs), targets);
    loss.backward(); // through the head, every timestep and every gate
    const gradNorm = clipGradNorm(this.model.parameters(), CLIP_NORM);
    this.#opt.step();
    this.#opt.zeroGrad();
    const [value, norm] = await Promise.all([loss.item(), gradNorm]);
    loss.dispose();
    inputs.dispose();
    targets.dispose();
    this.step += 1;
    return { loss: value, gradNorm: norm };
  }

  /**
   * `length` characters drawn from the model after reading `prompt`, one at a time. At temperature
   * τ > 0 each character is argmax(logits/τ + Gumbel noise), an exact draw from softmax(logits/τ)
   * made on the device, so the chosen index feeds the next step without a trip to the host; τ = 0
   * is greedy. One read at the end.
   */
  async sample(prompt: string, length: number, temperature: number): Promise<string> {
    const ids = this.vocab.encode(prompt.length > 0 ? prompt : ' ');
    const cell = this.model.gru.cell(0);
    let h: Tensor = zeros([1, this.model.hiddenSize]);
    /** One GRU step from character `input` [1]: updates h and returns the character drawn next. */
    const advance = (input: Tensor): Tensor => {
      const [hNext, choice] = tidy(() => {
        const hv = cell.forward(this.model.embed.forward(input), variable(h)); // [1, H]
        const logits = this.model.head.forward(hv).value; // [1, V]
        if (temperature <= 0) return [hv.value, argmax(logits, 1)];
        const gumbel = neg(log(neg(log(uniform(logits.shape, 1e-6, 1 - 1e-6)))));
        return [hv.value, argmax(add(div(logits, temperature), gumbel), 1)];
      });
      h.dispose();
      h = hNext as Tensor;
      return choice as Tensor;
    };
    const drawn: Tensor[] = [];
    noGrad(() => {
      // Read the prompt; what the model draws after its last character is the first sampled one.
      let choice: Tensor | null = null;
      for (let i = 0; i < ids.length; i++) {
        choice?.dispose();
        const input = tensor(ids.subarray(i, i + 1), [1], 'int32');
        choice = advance(input);
        input.dispose();
      }
      for (let n = 0; n < length && choice; n++) {
        drawn.push(choice);
        choice = n + 1 < length ? advance(choice) : null;
      }
    });
    h.dispose();
    if (drawn.length === 0) return '';
    const all = concatTensors(drawn, 0);
    const values = await all.data();
    all.dispose();
    for (const d of drawn) d.dispose();
    return this.vocab.decode(values);
  }

  /**
   * The update gate z and reset gate r at every character of `text`, from the GRU cell's
   * equations run step by step with the current weights (gates stacked z | r | h in W, U, b):
   *
   *   z_t = σ(x_t W_z + h_{t-1} U_z + b_z),  r_t = σ(x_t W_r + h_{t-1} U_r + b_r)
   *   h̃_t = tanh(x_t W_h + (r_t ⊙ h_{t-1}) U_h + b_h),  h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
   */
  async gates(text: string): Promise<GateMaps> {
    const ids = this.vocab.encode(text);
    const T = ids.length;
    const cell = this.model.gru.cell(0);
    if (cell.resetAfter) throw new Error('gates: written for resetAfter: false');
    const H = cell.hiddenSize;
    if (T === 0) return { z: new Float32Array(0), r: new Float32Array(0) };
    const [zAll, rAll] = noGrad(() =>
      tidy(() => {
        const x = this.model.embed.forward(tensor(ids, [T], 'int32')); // [T, E]
        const xW = x.matmul(cell.W); // [T, 3H]
        const xp = cell.b ? xW.add(cell.b) : xW;
        const Uzr = cell.U.slice([0, 0], [H, 2 * H]);
        const Uh = cell.U.slice([0, 2 * H], [H, H]);
        const gate = (v: Variable, g: number): Variable => v.slice([0, g * H], [1, H]);
        let h = variable(zeros([1, H]));
        const zs: Variable[] = [];
        const rs: Variable[] = [];
        for (let t = 0; t < T; t++) {
          const xt = xp.slice([t, 0], [1, 3 * H]);
          const hU = h.matmul(Uzr); // h_{t-1} [U_z | U_r]
          const z = gate(xt, 0).add(gate(hU, 0)).sigmoid();
          const r = gate(xt, 1).add(gate(hU, 1)).sigmoid();
          const hTilde = gate(xt, 2).add(r.mul(h).matmul(Uh)).tanh();
          h = h.add(z.mul(hTilde.sub(h))); // (1 − z) ⊙ h + z ⊙ h̃
          zs.push(z);
          rs.push(r);
        }
        return [concat(zs, 0).value, concat(rs, 0).value];
      }),
    );
    const [z, r] = await Promise.all([zAll.data(), rAll.data()]);
    zAll.dispose();
    rAll.dispose();
    return { z: Float32Array.from(z), r: Float32Array.from(r) };
  }

  /**
   * How far back the gradient of one prediction reaches: ‖∂L/∂h_t‖ for every character t of
   * `text` but the last, where L is the cross-entropy of predicting the last character from the
   * ones before it. The GRU cell runs step by step with a zero "probe" added to each state,
   * h'_t = h_t + p_t: ∂L/∂p_t = ∂L/∂h_t is what backward() leaves in p_t.grad. The parameters'
   * gradients from this pass are dropped, so training is unaffected.
   */
  async gradientThroughTime(text: string): Promise<Float32Array> {
    const ids = this.vocab.encode(text);
    const T = ids.length - 1; // states that feed the prediction of the last character
    if (T < 1) return new Float32Array(0);
    const cell = this.model.gru.cell(0);
    const H = cell.hiddenSize;
    const probes = Array.from({ length: T }, () => variable(zeros([1, H]), { requiresGrad: true }));
    const x = this.model.embed.forward(tensor(ids.subarray(0, T), [T], 'int32')); // [T, E]
    let h: Variable | undefined;
    for (let t = 0; t < T; t++) {
      h = cell.forward(x.slice([t, 0], [1, x.shape[1] ?? 0]), h).add(probes[t] as Variable);
    }
    const target = tensor(ids.subarray(T, T + 1), [1], 'int32');
    const loss = this.#lossFn.forward(this.model.head.forward(h as Variable), target);
    loss.backward();
    this.model.zeroGrad();
    const norms = new Float32Array(T);
    for (const [t, p] of probes.entries()) {
      const g = p.grad as Tensor;
      const norm = tidy(() => noGrad(() => variable(g).mul(variable(g)).sum().sqrt().value));
      norms[t] = (await norm.data())[0] ?? Number.NaN;
      norm.dispose();
      p.dispose();
    }
    loss.dispose();
    target.dispose();
    return norms;
  }

  /** The weights as a safetensors file, with what is needed to rebuild the model in the metadata. */
  async save(): Promise<Uint8Array<ArrayBuffer>> {
    const bytes = await saveSafetensors(this.model.stateDict(), {
      format: 'wgru-playground',
      vocab: JSON.stringify(this.vocab.chars),
      hiddenSize: String(this.model.hiddenSize),
      embedDim: String(EMBED_DIM),
      step: String(this.step),
    });
    return new Uint8Array(bytes); // a copy that owns its whole buffer, so that it can be transferred
  }

  /** Frees the model and the optimizer's state. */
  dispose(): void {
    this.#opt.dispose();
    this.model.dispose();
  }
}

/**
 * A Trainer holding the weights of a file written by {@link Trainer.save}. Throws an Error that
 * says what is wrong when the file is not one (another vocabulary, missing tensors, bad bytes).
 */
export function trainerFromFile(bytes: Uint8Array, vocab: Vocab, corpus: string, learningRate: number): Trainer {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.vocab !== undefined && metadata.vocab !== JSON.stringify(vocab.chars)) {
    throw new Error('load: this file was trained on a different alphabet than the playground corpus');
  }
  const U = tensors['gru.l0.U'];
  if (U?.shape.length !== 2) throw new Error("load: not a playground checkpoint (no 'gru.l0.U' matrix)");
  const hiddenSize = U.shape[0];
  const trainer = new Trainer(vocab, corpus, { hiddenSize, learningRate });
  try {
    const dict = Object.fromEntries(Object.entries(tensors).map(([k, raw]) => [k, Float32Array.from(raw.data)]));
    trainer.model.loadStateDict(dict); // strict: names and sizes must all match
    trainer.step = Number(metadata.step ?? 0) || 0;
  } catch (e) {
    trainer.dispose();
    throw e;
  }
  return trainer;
}
