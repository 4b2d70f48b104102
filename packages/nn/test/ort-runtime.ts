/**
 * ONNX Runtime for tests: `onnxruntime-web` on its wasm backend, in this Node process, with its
 * wasm files taken from the installed package (no network) and threads off (vitest's forked
 * workers have no cross-origin isolation to share memory with).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-web';

let ready = false;

/** The ONNX Runtime module, configured for Node (wasm, one thread, local wasm files). */
export function onnxRuntime(): typeof ort {
  if (!ready) {
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('onnxruntime-web'));
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = `${dist}${path.sep}`;
    ready = true;
  }
  return ort;
}

/** Runs an ONNX model (bytes) once: feeds by name, returns every output as { dims, data }. */
export async function runOnnx(
  bytes: Uint8Array,
  feeds: Record<string, { dims: readonly number[]; data: Float32Array | Int32Array }>,
): Promise<Record<string, { dims: number[]; data: Float32Array }>> {
  const rt = onnxRuntime();
  const session = await rt.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      inputs[name] = new rt.Tensor(f.data instanceof Int32Array ? 'int32' : 'float32', f.data, [...f.dims]);
    }
    const result = await session.run(inputs);
    const out: Record<string, { dims: number[]; data: Float32Array }> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { dims: [...t.dims], data: Float32Array.from(t.data as Float32Array) };
    }
    return out;
  } finally {
    await session.release();
  }
}
