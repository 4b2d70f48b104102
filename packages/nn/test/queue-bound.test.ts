/**
 * A loop that never yields to the event loop is stopped by an Error before Dawn runs out of room
 * (the process would otherwise die with a segmentation fault; see queue-bound.ts in @wgru/tensor):
 * at `backward()`, before anything changes, so that the model, the optimizer state and the tensors
 * are intact, and the loop can await and go on to the very losses of a loop that awaited all along.
 *
 * The bounds are lowered here (reached in a few steps of a tiny model instead of thousands of a
 * real one); what is tested is where and how the Error comes, and that nothing is lost. With the
 * real bounds, the loop that used to crash is shown to stay far from them.
 */
import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { activeBackend, engineStats, matmul, randn, setBackend, type Tensor } from '@wgru/tensor';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { webgpuAvailable } from '../../../test-support/backends.js';

type Counts = { bindGroups: number; submits: number };
interface BoundInternals {
  engine: {
    bound: Counts & { steps: number; bounds: { warn: Counts; limit: Counts; lastResort: Counts }; warned: boolean };
  };
}
const HUGE: Counts = { bindGroups: 1e9, submits: 1e9 };
const bound = () => (activeBackend() as unknown as BoundInternals).engine.bound;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A tiny GRU language model and its optimizer, the same weights every time. */
function makeRun() {
  const embed = new Embedding(8, 4, { seed: 1 });
  const gru = new GRU({ inputSize: 4, hiddenSize: 6, seed: 2 });
  const head = new Linear(6, 8, { seed: 3 });
  const opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 0.05 });
  const lossFn = new CrossEntropyLoss();
  const x = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const targets = Int32Array.of(2, 3, 4, 5, 6, 7);
  const step = () => {
    const { output } = gru.forward(embed.forward(x));
    const loss = lossFn.forward(head.forward(output.reshape([6, 6])), targets);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  const dispose = () => {
    for (const m of [embed, gru, head, opt]) m.dispose();
  };
  return { step, dispose };
}

describe.skipIf(!(await webgpuAvailable()))('WebGPU: a bound on what is queued without yielding', () => {
  let defaults: BoundInternals['engine']['bound']['bounds'];
  beforeAll(async () => {
    await setBackend('webgpu');
    defaults = bound().bounds;
  });
  afterEach(async () => {
    bound().bounds = defaults;
    bound().warned = false;
    await nextTurn();
  });

  it('throws at backward() before changing anything; after an await, training goes on to the same losses', async () => {
    await setBackend('webgpu');
    bound().bounds = { warn: HUGE, limit: { bindGroups: 150, submits: 1e9 }, lastResort: HUGE };
    const steps = 12;

    // A loop that awaits every step never reaches the bound.
    const awaited = makeRun();
    const expected: number[] = [];
    for (let i = 0; i < steps; i++) expected.push(await awaited.step().item());
    awaited.dispose();

    // The same loop, never awaiting: it is stopped, awaits, and retries the step that threw.
    const eager = makeRun();
    const losses: Promise<number>[] = [];
    const errors: Error[] = [];
    for (let i = 0; i < steps; i++) {
      try {
        losses.push(eager.step().item());
      } catch (e) {
        errors.push(e as Error);
        await nextTurn();
        i--;
      }
    }
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.message).toMatch(
      /^webgpu: \d+ queue submits and \d+ bind groups in \d+ steps without yielding to the event loop; .*Await something \(e\.g\. `await loss\.item\(\)`\) at least every \d+ steps$/,
    );
    expect(await Promise.all(losses)).toEqual(expected);
    eager.dispose();
  });

  it('with the real bounds, the loop that used to crash the process (never awaiting) reuses its bind groups, far from the bound', async () => {
    await setBackend('webgpu');
    // The loop at a smaller width: Embedding → GRU → Linear, T = 32, Adam, never awaiting.
    // It made ~300 bind groups a step, reached the bound in ~100 steps and crashed in ~210.
    // Now a step binds the buffers of the step before (webgpu/pool.ts), so no bind group is
    // made after the first steps, and only its two submits a step count towards the bound
    // (10,000, some 5,000 steps away; queue-bound.ts).
    const T = 32;
    const embed = new Embedding(16, 8, { seed: 1 });
    const gru = new GRU({ inputSize: 8, hiddenSize: 8, batchFirst: true, seed: 2 });
    const head = new Linear(8, 16, { seed: 3 });
    const opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()]);
    const lossFn = new CrossEntropyLoss();
    const x = [Array.from({ length: T }, (_, t) => (t * 7) % 16)];
    const targets = Int32Array.from({ length: T }, (_, t) => (t * 5) % 16);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await nextTurn();
    const STEPS = 300;
    let madeAtHalf = 0;
    for (let step = 1; step <= STEPS; step++) {
      const loss = lossFn.forward(head.forward(gru.forward(embed.forward(x)).output.reshape([T, 8])), targets);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      if (step === STEPS / 2) madeAtHalf = engineStats().bindGroups;
    }
    expect(engineStats().bindGroups - madeAtHalf).toBe(0);
    const counted = bound();
    expect(counted.steps).toBe(STEPS);
    expect(counted.bindGroups).toBeLessThan(counted.bounds.warn.bindGroups);
    expect(counted.submits).toBeLessThan(counted.bounds.limit.submits / 10);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    await nextTurn();
    const loss = lossFn.forward(head.forward(gru.forward(embed.forward(x)).output.reshape([T, 8])), targets);
    loss.backward();
    expect(Number.isFinite(await loss.item())).toBe(true);
    for (const m of [embed, gru, head, opt]) m.dispose();
  });

  it('warns once on stderr before the bound', async () => {
    await setBackend('webgpu');
    bound().bounds = { warn: { bindGroups: 1, submits: 1 }, limit: HUGE, lastResort: HUGE };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const run = makeRun();
    for (let i = 0; i < 4; i++) run.step();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/without yielding to the event loop.*warned once/);
    warn.mockRestore();
    run.dispose();
    await nextTurn();
  });

  it('a loop without backward() (inference) is stopped at an allocation, and goes on after an await', async () => {
    await setBackend('webgpu');
    bound().bounds = { warn: HUGE, limit: HUGE, lastResort: { bindGroups: 1e9, submits: 20 } };
    const w = randn([4, 4], { seed: 1 });
    let x: Tensor = randn([1, 4], { seed: 2 });
    let thrown = 0;
    for (let i = 0; i < 60; i++) {
      try {
        const y = matmul(x, w);
        void y.data(); // submits, never awaited
        x.dispose();
        x = y;
      } catch (e) {
        expect((e as Error).message).toMatch(/webgpu: 20 queue submits .*without yielding/);
        thrown++;
        await nextTurn();
      }
    }
    expect(thrown).toBeGreaterThan(0);
    expect((await x.data()).every(Number.isFinite)).toBe(true);
  });
});
