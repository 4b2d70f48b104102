/**
 * The same seeds give bit-identical results run to run on one backend: two runs of the same
 * seeded training (manualSeed for the global stream that Dropout draws from, a seed per module for
 * the initial weights) produce the same losses and the same final weights, bit for bit.
 */
import { Adam, CrossEntropyLoss, Dropout, Embedding, GRU, Linear } from '@wgru/nn';
import { manualSeed, setBackend } from '@wgru/tensor';
import { beforeAll, expect, it } from 'vitest';
import { forEachBackend } from '../../../test-support/backends.js';

const V = 12;
const E = 6;
const H = 10;
const B = 3;
const T = 5;
const STEPS = 20;

/** Losses (as float32 bit patterns) and final weights of one seeded training run. */
async function train(seed: number): Promise<{ losses: number[]; bits: number[]; weights: Float32Array[] }> {
  manualSeed(seed);
  using embed = new Embedding(V, E, { seed: seed + 1 });
  // Two layers with dropout between them and on the GRU's output: random numbers every step.
  using gru = new GRU({ inputSize: E, hiddenSize: H, numLayers: 2, dropout: 0.3, seed: seed + 2 });
  using head = new Linear(H, V, { seed: seed + 3 });
  const drop = new Dropout(0.2);
  const lossFn = new CrossEntropyLoss({ labelSmoothing: 0.05 });
  using opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 0.02 });
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    // Deterministic data: a different batch every step.
    const x = Array.from({ length: T }, (_, t) => Array.from({ length: B }, (_, b) => (t * 7 + b * 3 + step * 5) % V));
    const y = Int32Array.from({ length: T * B }, (_, i) => (i * 5 + step * 3 + 1) % V);
    const { output } = gru.forward(embed.forward(x));
    const loss = lossFn.forward(head.forward(drop.forward(output).reshape([T * B, H])), y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push(await loss.item());
  }
  const weights: Float32Array[] = [];
  for (const p of [...embed.parameters(), ...gru.parameters(), ...head.parameters()])
    weights.push((await p.data()) as Float32Array);
  const bits = Array.from(new Uint32Array(Float32Array.from(losses).buffer));
  return { losses, bits, weights };
}

forEachBackend('determinism', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it(`two runs of the same seeded training (${STEPS} steps) give bit-identical losses and weights`, async () => {
    const a = await train(42);
    const b = await train(42);
    for (const l of a.losses) expect(Number.isFinite(l)).toBe(true);
    expect(b.bits).toEqual(a.bits);
    expect(b.losses).toEqual(a.losses);
    expect(b.weights.length).toBe(a.weights.length);
    a.weights.forEach((w, i) => {
      expect(new Uint32Array((b.weights[i] as Float32Array).buffer)).toEqual(new Uint32Array(w.buffer));
    });
    // The loss moved: the run really trained (and the comparison is not between constants).
    expect(a.losses[STEPS - 1]).not.toBe(a.losses[0]);
  });

  it('a different seed gives a different run', async () => {
    const a = await train(42);
    const c = await train(43);
    expect(c.bits).not.toEqual(a.bits);
  });
});
