/**
 * A training run whose WebGPU device is lost mid-step goes on from its last checkpoint and loses
 * only the steps since then: in the same process through the public API (a fresh
 * `setBackend('webgpu')`, weights and optimizer state loaded from the checkpoint's bytes), and in
 * a new process through `--resume`. The loss is provoked with `device.destroy()` through the
 * backend's internals, the hook the device-loss tests in @wgru/nn use.
 *
 * This file destroys its device: it runs in its own process (vitest's forks pool).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Adam,
  CrossEntropyLoss,
  decodeSafetensors,
  Dropout,
  Embedding,
  GRU,
  Linear,
  loadSafetensors,
  Module,
  saveSafetensors,
} from '@wgru/nn';
import { activeBackend, manualSeed, rngState, setBackend, type Tensor, tensor } from '@wgru/tensor';
import type { Variable } from '@wgru/autograd';
import { afterAll, describe, expect, it } from 'vitest';
import { webgpuAvailable } from '../../../test-support/backends.js';

const V = 10;
class Tiny extends Module {
  readonly embed = new Embedding(V, 6, { seed: 1 });
  readonly drop = new Dropout(0.3);
  readonly gru = new GRU({ inputSize: 6, hiddenSize: 8, seed: 2 });
  readonly head = new Linear(8, V, { seed: 3 });
  forward(ids: Tensor): Variable {
    const [T, B] = ids.shape as [number, number];
    return this.head.forward(this.gru.forward(this.drop.forward(this.embed.forward(ids))).output.reshape([T * B, 8]));
  }
}

/** Step `step`'s batch: a function of the step alone, so that the data position is the step. */
function batch(step: number): { x: Tensor; y: Tensor } {
  const ids = Int32Array.from({ length: 12 }, (_, i) => (step * 7 + i * 3) % V);
  return {
    x: tensor(ids, [4, 3], 'int32'),
    y: tensor(
      ids.map((i) => (i * 3 + 1) % V),
      [12],
      'int32',
    ),
  };
}

/** Trains `steps` steps with a checkpoint every `every`; destroys the device in the middle of step `loseAt`. */
async function train(steps: number, every: number, loseAt = 0): Promise<{ losses: number[]; errors: string[] }> {
  await setBackend('webgpu');
  manualSeed(0);
  const build = () => {
    const model = new Tiny();
    return { model, opt: new Adam(model.parameters(), { lr: 0.02 }) };
  };
  let { model, opt } = build();
  const lossFn = new CrossEntropyLoss();
  const losses: number[] = [];
  const errors: string[] = [];
  let checkpoint: { step: number; bytes: Uint8Array } | null = null;
  for (let step = 1; step <= steps; step++) {
    try {
      const { x, y } = batch(step);
      const loss = lossFn.forward(model.forward(x), y);
      if (step === loseAt && errors.length === 0) {
        const device = (activeBackend() as unknown as { device: GPUDevice }).device;
        device.destroy();
        await device.lost;
      }
      loss.backward();
      opt.step();
      opt.zeroGrad();
      losses[step - 1] = await loss.item();
      for (const t of [x, y]) t.dispose();
      if (step % every === 0) {
        const sd = opt.stateDict();
        const tensors = { ...prefixed('model.', model.stateDict()), ...prefixed('optim.', sd.state) };
        const meta = { steps: sd.steps, hyper: sd.hyper, rng: rngState() };
        checkpoint = { step, bytes: await saveSafetensors(tensors, { resume: JSON.stringify(meta) }) };
      }
    } catch (e) {
      // The device is gone: a fresh one, the model and optimizer rebuilt from the last checkpoint.
      errors.push((e as Error).message);
      if (checkpoint === null || errors.length > 1) throw e;
      await setBackend('webgpu');
      ({ model, opt } = build());
      const all = loadSafetensors(checkpoint.bytes);
      const meta = JSON.parse(decodeSafetensors(checkpoint.bytes).metadata?.resume ?? '{}');
      model.loadStateDict(section(all, 'model.'));
      opt.loadStateDict({ state: section(all, 'optim.'), steps: meta.steps, hyper: meta.hyper });
      for (const t of Object.values(all)) t.dispose();
      manualSeed(meta.rng);
      step = checkpoint.step; // the loop goes on with the step after it
    }
  }
  model.dispose();
  opt.dispose();
  return { losses, errors };
}

const prefixed = (p: string, d: Record<string, Tensor>) =>
  Object.fromEntries(Object.entries(d).map(([k, t]) => [`${p}${k}`, t]));
const section = (all: Record<string, Tensor>, p: string) =>
  Object.fromEntries(
    Object.entries(all)
      .filter(([k]) => k.startsWith(p))
      .map(([k, t]) => [k.slice(p.length), t]),
  );

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!(await webgpuAvailable()))('device loss mid-run', () => {
  it('public API: a fresh setBackend, weights and optimizer state from the last checkpoint; only the steps since it are redone', async () => {
    const { losses: expected } = await train(6, 2);
    const { losses, errors } = await train(6, 2, 4); // lost in step 4: steps 3 and 4 are redone
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/WebGPU device was destroyed; call setBackend\('webgpu'\) again/);
    expect(losses).toHaveLength(6);
    for (const [i, l] of losses.entries()) expect(l).toBeCloseTo(expected[i], 5);
  });

  it('--resume: a process whose device is lost exits with the error; resumed, it ends with the uninterrupted losses', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const run = (out: string, ...flags: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const args = [
          '--import',
          'tsx',
          '--conditions=wgru-source',
          'test/fixtures/resumable-run.ts',
          out,
          '8',
          'webgpu',
        ];
        const child = spawn(process.execPath, [...args, ...flags], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += String(d);
        });
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const [whole, lost] = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'wgru-device-loss-')));
    dirs.push(whole as string, lost as string);
    const [uninterrupted, failed] = await Promise.all([
      run(whole as string),
      run(lost as string, '--lose-device-at=5'),
    ]);
    expect(uninterrupted.code).toBe(0);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/WebGPU device was destroyed/);
    expect(JSON.parse(readFileSync(join(lost as string, 'tiny.resume.json'), 'utf8')).step).toBe(4);
    expect((await run(lost as string, '--resume')).code).toBe(0);
    const losses = (dir: string): number[] => JSON.parse(readFileSync(join(dir, 'final.json'), 'utf8'));
    const [expected, got] = [losses(whole as string), losses(lost as string)];
    expect(got).toHaveLength(8);
    for (const [i, l] of got.entries()) expect(l).toBeCloseTo(expected[i], 5);
  });
});
