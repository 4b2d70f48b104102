/**
 * Greedy token generation at batch 1: Embedding(V, I) -> one GRU step (H = 256) -> Linear(H -> V)
 * -> argmax, the next token feeding the next step. wgru runs its inference fast path (under
 * `noGrad`, a GRU cell step is one fused kernel); TensorFlow.js runs the same model with tf.layers
 * (a one-step GRU layer given the previous state as `initialState`). Two loops each:
 *
 * - read each token: the token id is read on the host every step (as a sampler on the host
 *   would), then uploaded as the next input: one host round trip per token;
 * - on device: the argmax stays on the device and is fed straight back as the next index; all
 *   tokens are read once at the end.
 *
 * wgru also has a third row: the cell step as `gruCell` with W (the input projection inside the
 * same kernel), on device. Reports ms/token and wgru's engine counts per token.
 *
 *   pnpm bench --only=generate [--quick] [--tokens=N]
 * @module
 */
import { noGrad, variable } from '@wgru/autograd';
import { Embedding, GRU, type GRUCell, Linear } from '@wgru/nn';
import { argmax, concat, engineStats, gruCell, setBackend, type Tensor, tensor, tidy, zeros } from '@wgru/tensor';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
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

const V = 128;
const I = 128;
const H = 256;

export type Loop = 'read' | 'device' | 'fused-w';
type Impl = `${'wgru' | 'tfjs'}-${'webgpu' | 'cpu'}-${Loop}`;
const LOOP_LABEL: Record<Loop, string> = {
  read: 'read each token',
  device: 'argmax on device, one read',
  'fused-w': 'gruCell with W, on device',
};

/** A generator: `run(n)` writes n tokens greedily from token 0 and a zero state. */
export interface Generator {
  run: (n: number) => Promise<number[]>;
  /** wgru only: engine counts per token of the last run. */
  perToken?: { dispatches: number; submits: number };
  dispose: () => void;
}

/** The wgru model on the active backend. */
export class WgruLm {
  readonly embed = new Embedding(V, I, { seed: 1 });
  readonly gru: GRU;
  readonly cell: GRUCell;
  readonly head = new Linear(H, V, { seed: 3 });

  constructor(resetAfter: boolean) {
    this.gru = new GRU({ inputSize: I, hiddenSize: H, resetAfter, seed: 2 });
    this.cell = this.gru.cell(0);
  }

  /** One token, without a tape: id [1] int32, h [1, H] -> the next id [1] and h' [1, H]. */
  step(id: Tensor, h: Tensor): [Tensor, Tensor] {
    return tidy(() =>
      noGrad(() => {
        // GRUCell.forward = project (x W + b), then step: the fused kernel under noGrad.
        const hNext = this.cell.forward(this.embed.forward(id), variable(h));
        return [argmax(this.head.forward(hNext).value, 1), hNext.value];
      }),
    );
  }

  /** The same token with the projection inside the fused cell kernel (gruCell with W and b). */
  stepFusedW(id: Tensor, h: Tensor): [Tensor, Tensor] {
    const c = this.cell;
    return tidy(() =>
      noGrad(() => {
        const x = this.embed.forward(id).value;
        const hNext = gruCell({
          x,
          W: c.W.value,
          b: c.b?.value ?? null,
          h,
          U: c.U.value,
          c: c.c?.value ?? null,
          resetAfter: c.resetAfter,
        });
        return [argmax(this.head.forward(variable(hNext)).value, 1), hNext];
      }),
    );
  }

  dispose(): void {
    for (const p of [...this.embed.parameters(), ...this.gru.parameters(), ...this.head.parameters()]) p.dispose();
  }
}

export function wgruGenerator(model: WgruLm, loop: Loop): Generator {
  const g: Generator = {
    run: async (n) => {
      const before = engineStats();
      let id = tensor(Int32Array.of(0), [1], 'int32');
      let h = zeros([1, H]);
      const tokens: number[] = [];
      const ids: Tensor[] = [];
      for (let i = 0; i < n; i++) {
        const [next, hNext] = loop === 'fused-w' ? model.stepFusedW(id, h) : model.step(id, h);
        h.dispose();
        h = hNext;
        if (loop === 'read') {
          // The sampler runs on the host: read the id, upload it as the next input.
          id.dispose();
          const tok = (await next.data())[0];
          next.dispose();
          tokens.push(tok);
          id = tensor(Int32Array.of(tok), [1], 'int32');
        } else {
          // Greedy on the device: the argmax is the next index; nothing is read until the end.
          ids.push(next);
          id = next;
        }
      }
      if (loop !== 'read') {
        const all = concat(ids, 0);
        tokens.push(...(await all.data()));
        all.dispose();
        for (const t of ids) t.dispose();
      } else id.dispose();
      h.dispose();
      const after = engineStats();
      g.perToken = {
        dispatches: (after.dispatches - before.dispatches) / n,
        submits: (after.submits - before.submits) / n,
      };
      return tokens;
    },
    dispose: () => {},
  };
  return g;
}

/** The same model in TensorFlow.js's layers API: embedding, a GRU that returns its state, dense. */
export function tfGenerator(tf: Tf, loop: Exclude<Loop, 'fused-w'>): Generator {
  const embed = tf.layers.embedding({ inputDim: V, outputDim: I });
  // glorotUniform rather than the default orthogonal initializer: the same speed per token, without
  // tfjs's slow orthogonalisation of a 256 x 768 matrix at build time.
  const gru = tf.layers.gru({
    units: H,
    recurrentActivation: 'sigmoid',
    returnState: true,
    recurrentInitializer: 'glorotUniform',
  });
  const dense = tf.layers.dense({ units: V });
  /** id [1, 1] int32, h [1, H] -> the next id [1, 1] and h'. */
  const step = (id: TfTensor, h: TfTensor): [TfTensor, TfTensor] =>
    tf.tidy(() => {
      const e = embed.apply(id) as TfTensor; // [1, 1, I]: a sequence of one step
      const [out, hNext] = gru.apply(e, { initialState: [h] }) as TfTensor[];
      const next = (dense.apply(out as TfTensor) as TfTensor).argMax(-1).reshape([1, 1]);
      return [next, hNext as TfTensor];
    });
  return {
    run: async (n) => {
      let id: TfTensor = tf.tensor2d([[0]], [1, 1], 'int32');
      let h: TfTensor = tf.zeros([1, H]);
      const tokens: number[] = [];
      const ids: TfTensor[] = [];
      for (let i = 0; i < n; i++) {
        const [next, hNext] = step(id, h);
        h.dispose();
        h = hNext;
        if (loop === 'read') {
          id.dispose();
          const tok = (await next.data())[0];
          next.dispose();
          tokens.push(tok);
          id = tf.tensor2d([[tok]], [1, 1], 'int32');
        } else {
          ids.push(next);
          id = next;
        }
      }
      if (loop !== 'read') {
        const all = tf.concat(ids, 0);
        tokens.push(...(await all.data()));
        all.dispose();
        for (const t of ids) t.dispose();
      } else id.dispose();
      h.dispose();
      return tokens;
    },
    dispose: () => {
      for (const layer of [embed, gru, dense]) layer.dispose();
    },
  };
}

/** Tokens per timed run: enough to time, few where a token costs ~0.2 s (tfjs on the CPU). */
function tokensPerRun(kind: 'webgpu' | 'cpu', opts: BenchOptions): number {
  if (opts.args.tokens) return Number(opts.args.tokens);
  if (kind === 'webgpu') return opts.quick ? 32 : 64;
  return opts.quick ? 8 : 16;
}

function budget(opts: BenchOptions): TimeOptions {
  return opts.quick
    ? { warmup: 1, minRuns: 3, maxRuns: 3, budgetMs: 0 }
    : { warmup: 2, minRuns: 5, maxRuns: 9, budgetMs: 8000 };
}

export const generateBench: Benchmark = {
  name: 'generate',
  description:
    `greedy token generation at batch 1 (Embedding ${V}x${I} -> GRU step H=${H} -> Linear -> ` +
    `argmax), ms/token, wgru vs TensorFlow.js`,
  async run(opts) {
    const tf = opts.noTfjs ? null : await loadTfjs(opts.log);
    // Keyed 'impl|placement'.
    const msPerToken = new Map<string, number>();
    const counts = new Map<string, { dispatches: number; submits: number }>();
    const notes: string[] = [];
    const placements: Array<{ resetAfter: boolean; tag: string }> = [
      { resetAfter: true, tag: 'resetAfter true' },
      { resetAfter: false, tag: 'resetAfter false' },
    ];
    const rows: string[][] = [];

    for (const kind of ['webgpu', 'cpu'] as const) {
      await setBackend(kind);
      const tfOk = tf !== null && (await tfBackend(tf, kind));
      if (tf && !tfOk) notes.push(`TensorFlow.js ${kind} backend did not start.`);
      const n = tokensPerRun(kind, opts);
      opts.log(`  ${kind}: ${n} tokens per run`);
      const models = placements.map((p) => new WgruLm(p.resetAfter));
      const gens = new Map<string, Generator>();
      for (const [pi, p] of placements.entries()) {
        for (const loop of ['read', 'device', 'fused-w'] as const)
          gens.set(`wgru-${kind}-${loop}|${p.tag}`, wgruGenerator(models[pi] as WgruLm, loop));
      }
      if (tfOk)
        for (const loop of ['read', 'device'] as const)
          gens.set(`tfjs-${kind}-${loop}|resetAfter false`, tfGenerator(tf as Tf, loop));
      // All loops must write the same tokens per model (a check that the fast path is the model).
      const t = await timeSideBySide(
        new Map([...gens].map(([k, g]) => [k, async () => void (await g.run(n))])),
        budget(opts),
      );
      // Counts per token from the last timed run, before the check below runs again.
      const perToken = new Map([...gens].map(([k, g]) => [k, g.perToken ? { ...g.perToken } : null]));
      const wgruTokens = new Map<string, string>();
      for (const [k, g] of gens) {
        if (!k.startsWith('wgru')) continue;
        const toks = (await g.run(8)).join(',');
        const tag = k.split('|')[1] as string;
        const seen = wgruTokens.get(tag);
        if (seen !== undefined && seen !== toks)
          notes.push(`warning: wgru ${kind} ${k} wrote tokens ${toks}, other loops ${seen}`);
        wgruTokens.set(tag, toks);
      }
      for (const [k, r] of t) {
        const [impl, tag] = k.split('|') as [Impl, string];
        const ms = r.ms / n;
        msPerToken.set(k, ms);
        const pt = perToken.get(k) ?? null;
        if (pt) counts.set(k, pt);
        opts.log(`    ${impl} (${tag}): ${r.runs.map((x) => (x / n).toFixed(2)).join(', ')} ms/token`);
        const loop = impl.replace(/^(wgru|tfjs)-(webgpu|cpu)-/, '') as Loop;
        const base = `tfjs-${kind}-${loop === 'fused-w' ? 'device' : loop}|resetAfter false`;
        const tfMs = t.get(base)?.ms;
        const ratio =
          tfMs && !impl.startsWith('tfjs') ? `${fmt(tfMs / n / ms)}x` : impl.startsWith('tfjs') ? '1.00x' : '-';
        rows.push([
          `${impl.split('-')[0]} ${kind}`,
          tag,
          LOOP_LABEL[loop],
          fmt(ms, 2),
          fmt(1000 / ms, 0),
          ratio,
          pt ? fmt(pt.dispatches, 1) : '-',
          pt ? fmt(pt.submits, 3) : '-',
        ]);
      }
      for (const g of gens.values()) g.dispose();
      for (const m of models) m.dispose();
    }
    await setBackend('webgpu');
    notes.push(
      `B=1, V=${V}, I=${I}, H=${H}, float32, greedy (argmax) decoding from token 0 and a zero state. ms/token = ` +
        `median time of one run / tokens per run.`,
      '"vs tfjs": TensorFlow.js ms/token (same backend kind, same loop; resetAfter false, its only GRU ' +
        'placement) over wgru ms/token: how many times faster wgru is.',
      'dispatches, submits: wgru engine counts per token (engineStats over one run / tokens).',
    );
    return {
      title: 'GRU token generation latency, batch 1 (ms/token: lower is better)',
      columns: ['implementation', 'GRU', 'loop', 'ms/token', 'tokens/s', 'vs tfjs', 'dispatches', 'submits'],
      rows,
      notes,
      data: { V, I, H, msPerToken: Object.fromEntries(msPerToken), wgruCountsPerToken: Object.fromEntries(counts) },
    };
  },
};
