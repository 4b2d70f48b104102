/**
 * backward() consumes the graph: every intermediate value, constant and gradient it made goes back
 * to the backend (on WebGPU, its buffer returns to the pool). Measured with `memory()`: live tensors
 * and bytes in use after forward + backward + disposing the gradients and the root equal those
 * before.
 *
 * The window between the two measurements is synchronous on purpose: the garbage collector's
 * finalizers (the last safety net for undisposed tensors) cannot run inside it, so a leak cannot
 * hide behind a collection. Each measurement flushes first: WebGPU returns a buffer to the pool
 * only once the elementwise ops that may still read it have been encoded.
 */
import * as F from '@wgru/autograd';
import { type Variable, variable } from '@wgru/autograd';
import { flush, memory, setBackend, type Tensor, tensor, tidy } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

const B = 3;
const I = 4;
const H = 5;
const C = 5;

/** Deterministic small values. */
const vals = (n: number, seed: number): number[] =>
  Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 0.5);

/** Memory on the active backend, after pending work has been encoded (see above). */
function settled(): ReturnType<typeof memory> {
  flush();
  return memory();
}

forEachBackend('memory', (name) => {
  let params: Variable[];
  let x: Variable;
  let h: Variable;
  let picks: Tensor;
  let mask: Tensor;

  beforeAll(async () => {
    await setBackend(name);
    // W = [W_z | W_r | W_h], U likewise, b likewise: gates stacked on the last axis.
    params = [
      variable(vals(I * 3 * H, 1), { shape: [I, 3 * H], requiresGrad: true }),
      variable(vals(H * 3 * H, 2), { shape: [H, 3 * H], requiresGrad: true }),
      variable(vals(3 * H, 3), { shape: [3 * H], requiresGrad: true }),
      variable(vals(H * C, 4), { shape: [H, C], requiresGrad: true }),
    ];
    x = variable(vals(B * I, 5), { shape: [B, I] });
    h = variable(vals(B * H, 6), { shape: [B, H], requiresGrad: true });
    // Row i's target class t_i, as an index into the flattened [B * C] log-probabilities.
    picks = tensor(
      [1, 4, 0].map((t, i) => i * C + t),
      [B],
      'int32',
    );
    mask = tensor([[1], [0], [1]]);
  });

  /** One GRU step from primitives, a softmax cross-entropy head, and a bit of everything else. */
  function loss(): Variable {
    const [W, U, b, V] = params as [Variable, Variable, Variable, Variable];
    const gate = (k: number) =>
      [W.slice([0, k * H], [I, H]), U.slice([0, k * H], [H, H]), b.slice([k * H], [H])] as const;
    const [Wz, Uz, bz] = gate(0);
    const [Wr, Ur, br] = gate(1);
    const [Wh, Uh, bh] = gate(2);
    // z = σ(x W_z + h U_z + b_z)
    const z = x.matmul(Wz).add(h.matmul(Uz)).add(bz).sigmoid();
    // r = σ(x W_r + h U_r + b_r)
    const r = x.matmul(Wr).add(h.matmul(Ur)).add(br).sigmoid();
    // h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)
    const hTilde = x.matmul(Wh).add(r.mul(h).matmul(Uh)).add(bh).tanh();
    // h' = (1 − z) ⊙ h + z ⊙ h̃
    const hNext = F.sub(1, z).mul(h).add(z.mul(hTilde));
    const logits = F.where(mask, hNext.matmul(V), hNext.matmul(V).mul(0.5));
    const logp = logits.logSoftmax(1).reshape([B * C]);
    const picked = logp.gather(picks);
    const extra = F.stack([hNext.max(1), hNext.min(1), hNext.abs().mean(1)], 1)
      .sum()
      .mul(1e-3);
    return picked
      .mean()
      .neg()
      .add(extra)
      .add(F.concat([z, r], 1).pow(2).sqrt().sum().mul(1e-3));
  }

  const leaves = (): Variable[] => [...params, h];
  const disposeGrads = () => {
    for (const p of leaves()) p.zeroGrad();
  };

  it('forward + backward, then disposing the gradients and the root, leaves memory as it was', async () => {
    // A first step fills the caches that are meant to persist (the shared number constants).
    const warm = loss();
    warm.backward();
    expect(Number.isFinite(await warm.item())).toBe(true);
    warm.dispose();
    disposeGrads();

    const before = settled();
    const l = loss();
    const during = settled();
    l.backward();
    for (const p of leaves()) expect(p.grad, 'every leaf gets a gradient').not.toBeNull();
    disposeGrads();
    l.dispose();
    const after = settled();

    expect(during.liveTensors).toBeGreaterThan(before.liveTensors + 20); // the graph was really there
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.bytesInUse).toBe(before.bytesInUse);
  });

  it('without a graph (noGrad), composites free their own intermediates at once', () => {
    const logits = params[3] as Variable;
    const v = (params[2] as Variable).slice([0], [H]);
    const composites: Array<[string, () => Variable]> = [
      ['softmax', () => logits.softmax(1)],
      ['logSoftmax', () => logits.logSoftmax(0)],
      ['logSumExp', () => logits.logSumExp(1)],
      ['min', () => logits.min(1)],
      ['mean', () => logits.mean([0, 1])],
      ['stack', () => F.stack([logits, logits], 1)],
      ['vector @ matrix', () => v.matmul(logits)],
      ['matrix @ vector', () => logits.matmul(v)],
      ['vector @ vector', () => v.matmul(v)],
      ['where with numbers', () => F.where(mask, 1, 0)],
      ['a number operand', () => logits.mul(3)],
    ];
    for (const [what, f] of composites) {
      F.noGrad(f).dispose(); // the shared constants are made once
      const before = settled();
      const y = F.noGrad(f);
      y.dispose();
      const after = settled();
      expect(after.liveTensors, what).toBe(before.liveTensors);
      expect(after.bytesInUse, what).toBe(before.bytesInUse);
    }
    v.dispose();
  });

  it("inference inside tidy frees every intermediate, the caller's too", () => {
    tidy(() => F.noGrad(loss).value).dispose();
    const before = settled();
    const y = tidy(() => F.noGrad(loss).value);
    y.dispose();
    const after = settled();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.bytesInUse).toBe(before.bytesInUse);
  });

  it('a retained graph is freed by the last backward', () => {
    const before = settled();
    const l = loss();
    l.backward(undefined, { retainGraph: true });
    l.backward();
    disposeGrads();
    l.dispose();
    const after = settled();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.bytesInUse).toBe(before.bytesInUse);
  });

  it('repeated training steps do not grow memory', async () => {
    const step = () => {
      const l = loss();
      l.backward();
      disposeGrads();
      l.dispose();
    };
    step();
    const before = settled();
    for (let i = 0; i < 5; i++) step();
    const after = settled();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.bytesInUse).toBe(before.bytesInUse);
  });
});
