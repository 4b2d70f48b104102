/** profileKernels: device time per op from timestamp queries, on WebGPU. */
import { add, exp, matmul, profileKernels, randn, setBackend, sum } from '@wgru/tensor';
import { describe, expect, it } from 'vitest';
import { webgpuAvailable } from '../../../test-support/backends.js';

const hasGpu = await webgpuAvailable();

describe('profileKernels', () => {
  it('needs the WebGPU backend', async () => {
    await setBackend('cpu');
    await expect(profileKernels(async () => 1)).rejects.toThrow(/profileKernels: needs the WebGPU backend/);
  });

  it.skipIf(!hasGpu)('sums device time per op: each kernel counted once, under its op and shapes', async () => {
    await setBackend('webgpu');
    const a = randn([32, 48], { seed: 1 });
    const b = randn([48, 16], { seed: 2 });
    await a.data();
    await b.data();
    const { result, kernels } = await profileKernels(async () => {
      const c = exp(add(matmul(a, b), 1)); // matmul, then one fused kernel
      const total = (await sum(c).data())[0];
      return total;
    });
    expect(Number.isFinite(result)).toBe(true);
    const names = kernels.map((k) => k.op);
    const mm = kernels.find((k) => k.op.startsWith('matmul [32, 48] @ [48, 16]'));
    expect(mm?.count, names.join(' | ')).toBe(1);
    expect(kernels.find((k) => k.op.includes('exp'))?.count, names.join(' | ')).toBe(1);
    expect(kernels.find((k) => k.op === 'sum')?.count, names.join(' | ')).toBe(1);
    for (const k of kernels) expect(k.ms).toBeGreaterThanOrEqual(0);
    expect(kernels.reduce((s, k) => s + k.ms, 0)).toBeGreaterThan(0);
    // sorted, most expensive first
    for (let i = 1; i < kernels.length; i++) expect(kernels[i - 1]?.ms).toBeGreaterThanOrEqual(kernels[i]?.ms);
    // nesting is refused; after a profile, work runs unprofiled again
    await expect(profileKernels(() => profileKernels(async () => 0))).rejects.toThrow(/already profiling/);
    expect((await sum(matmul(a, b)).data()).length).toBe(1);
  });
});
