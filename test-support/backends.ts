/**
 * One test harness for every backend: `forEachBackend` runs a suite on the CPU backend, on the
 * WebAssembly backend and on WebGPU. WebGPU is skipped only when no adapter exists and WGRU_REQUIRE_WEBGPU is not set (CI sets
 * it, and then a missing adapter fails instead).
 */
import { setBackend } from '@wgru/tensor';
import { describe } from 'vitest';

export type BackendName = 'cpu' | 'wasm' | 'webgpu';

let gpuOk: boolean | null = null;

export async function webgpuAvailable(): Promise<boolean> {
  if (gpuOk !== null) return gpuOk;
  try {
    await setBackend('webgpu');
    gpuOk = true;
  } catch (e) {
    if (process.env.WGRU_REQUIRE_WEBGPU === '1') throw e;
    gpuOk = false;
  }
  return gpuOk;
}

const hasGpu = await webgpuAvailable();

/** Runs `body` in a describe block per backend, with that backend active in its hooks and tests. */
export function forEachBackend(title: string, body: (name: BackendName) => void): void {
  for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
    describe.skipIf(name === 'webgpu' && !hasGpu)(`${title} [${name}]`, () => {
      body(name);
    });
  }
}

export const FC_SEED = 20261124;
