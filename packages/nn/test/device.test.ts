/**
 * WebGPU failures become Errors that name the op, and a lost device can be replaced in the same
 * process: a validation error (provoked by destroying a tensor's buffer behind the library's back,
 * and by an internal dispatch with a missing binding) is thrown by the next call, naming the ops
 * of the failed batch; after `device.destroy()`, every entry point throws an Error that names the
 * op and says what to do, `setBackend('webgpu')` gets a fresh device, and training works again.
 *
 * This file destroys its device: it runs in its own process (vitest's forks pool).
 */
import { variable } from '@wgru/autograd';
import { Adam, CrossEntropyLoss, Embedding, GRU, Linear } from '@wgru/nn';
import { activeBackend, add, matmul, memory, reshape, setBackend, type Tensor, tensor } from '@wgru/tensor';
import { describe, expect, it } from 'vitest';
import { webgpuAvailable } from '../../../test-support/backends.js';

/** What these tests reach inside the WebGPU backend (an internal path, on purpose). */
interface GpuInternals {
  device: GPUDevice;
  engine: {
    lost: boolean;
    record(cmd: {
      kind: 'dispatch';
      op: string;
      pipeline: GPUComputePipeline;
      buffers: GPUBuffer[];
      params: Int32Array;
      workgroups: [number, number, number];
    }): void;
  };
}

const gpu = (): GpuInternals => activeBackend() as unknown as GpuInternals;
const bufferOf = (t: Tensor): GPUBuffer => (t.storage as unknown as { buffer: GPUBuffer }).buffer;

/** A few steps of a small GRU language model; returns the last loss. */
async function trainBriefly(): Promise<number> {
  using embed = new Embedding(8, 4, { seed: 1 });
  using gru = new GRU({ inputSize: 4, hiddenSize: 6, seed: 2 });
  using head = new Linear(6, 8, { seed: 3 });
  using opt = new Adam([...embed.parameters(), ...gru.parameters(), ...head.parameters()], { lr: 0.05 });
  const lossFn = new CrossEntropyLoss();
  let last = Number.NaN;
  for (let step = 0; step < 5; step++) {
    const x = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const { output } = gru.forward(embed.forward(x));
    const loss = lossFn.forward(head.forward(output.reshape([6, 6])), Int32Array.of(2, 3, 4, 5, 6, 7));
    loss.backward();
    opt.step();
    opt.zeroGrad();
    last = await loss.item();
  }
  return last;
}

describe.skipIf(!(await webgpuAvailable()))('WebGPU validation errors and device loss', () => {
  it("a buffer destroyed behind the library's back: the read throws, naming the op; the device then refuses work until re-initialised", async () => {
    await setBackend('webgpu');
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([
      [1, 0],
      [0, 1],
    ]);
    await b.data(); // uploaded in a batch of its own
    bufferOf(b).destroy();
    const c = matmul(a, b);
    await expect(c.data()).rejects.toThrow(
      /^WebGPU validation error in a batch of ops \((upload, )?matmul \[2, 2\] @ \[2, 2\] \(buffer\), read\): .*destroyed/s,
    );
    // Nothing of that batch ran (not even a's upload): the device refuses further work rather than
    // compute silently from lost values...
    expect(() => add(a, 1)).toThrow(
      /^add: WebGPU validation error in a batch of ops .*matmul.*refuses further work: call setBackend\('webgpu'\)/s,
    );
    expect(() => tensor([1])).toThrow(/^tensor: WebGPU validation error/);
    // ...until setBackend gives a fresh one.
    await setBackend('webgpu');
    const a2 = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(Array.from(await add(a2, 1).data())).toEqual([2, 3, 4, 5]);
    for (const t of [a, b, c, a2]) t.dispose();
  });

  it('an internal dispatch that fails validation: the next call throws an Error naming that op', async () => {
    await setBackend('webgpu');
    const { device, engine } = gpu();
    const module = device.createShaderModule({
      code: `@group(0) @binding(0) var<uniform> p: vec4<i32>;
             @group(0) @binding(1) var<storage, read_write> out: array<f32>;
             @compute @workgroup_size(1) fn main() { out[0] = f32(p.x); }`,
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    // No buffer for binding 1: the bind group is invalid.
    engine.record({
      kind: 'dispatch',
      op: 'brokenKernel',
      pipeline,
      buffers: [],
      params: new Int32Array(4),
      workgroups: [1, 1, 1],
    });
    const x = tensor([1, 2, 3]);
    await expect(add(x, 1).data()).rejects.toThrow(
      /^WebGPU validation error in a batch of ops \(brokenKernel, .*\): /s,
    );
    expect(() => add(x, 1)).toThrow(/^add: WebGPU validation error in a batch of ops \(brokenKernel/);
    x.dispose();
    await setBackend('webgpu');
    const y = tensor([1, 2, 3]);
    expect(Array.from(await add(y, 1).data())).toEqual([2, 3, 4]);
    y.dispose();
  });

  it("after device.destroy(): ops throw Errors naming the op; setBackend('webgpu') re-initialises and training works again", async () => {
    await setBackend('webgpu');
    expect(await trainBriefly()).toBeGreaterThan(0);
    const old = tensor([1, 2, 3]);
    const oldVar = variable([[1, 2]], { requiresGrad: true });
    const lostBackend = activeBackend();
    const { device, engine } = gpu();
    device.destroy();
    await device.lost;
    expect(engine.lost).toBe(true);

    // Every entry point says what happened, naming the op, at the call.
    expect(() => add(old, 1)).toThrow(/^add: WebGPU device was destroyed; call setBackend\('webgpu'\) again/);
    expect(() => tensor([1, 2])).toThrow(/^tensor: WebGPU device was destroyed/);
    expect(() => matmul(reshape(old, [1, 3]), reshape(old, [3, 1]))).toThrow(/^matmul: WebGPU device was destroyed/);
    expect(() => oldVar.mul(2)).toThrow(/^mul: WebGPU device was destroyed/);
    await expect(old.data()).rejects.toThrow(/WebGPU device was destroyed/);
    expect(() => new Linear(2, 2)).toThrow(/WebGPU device was destroyed/);

    // A fresh device in the same process.
    const info = await setBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(activeBackend()).not.toBe(lostBackend);
    expect(memory().liveTensors).toBe(0);
    const fresh = tensor([1, 2, 3]);
    expect(Array.from(await add(fresh, 1).data())).toEqual([2, 3, 4]);
    const loss = await trainBriefly();
    expect(Number.isFinite(loss)).toBe(true);
    // What training leaves on the new device: a few cached scalar constants, and what the last
    // step's user code holds (embedding, GRU output, its reshape, logits, the loss) or may read
    // (the final state hN would be made from), readable until the next backward().
    const cached = memory().liveTensors - 1;
    expect(cached).toBeLessThanOrEqual(4 + 6);
    // A tensor from the lost device cannot meet one from the new device; the error says why.
    expect(() => add(fresh, old)).toThrow(/add: operands live on two different webgpu devices.*recreate it/);
    // Disposing what was made on the lost device is harmless.
    old.dispose();
    oldVar.dispose();
    fresh.dispose();
    expect(memory().liveTensors).toBe(cached);
  });
});
