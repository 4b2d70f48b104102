/**
 * Creating and instantiating the backend's generated WebAssembly modules (binaryen builds them):
 * every module imports the backend's one shared memory as `env.memory`.
 * @module
 */
import binaryen from 'binaryen';
import { MAX_PAGES, SHARED } from './heap.js';

/** The internal name of the imported memory (loads and stores name it). */
export const MEM = '0';

export const { i32, f64, v128, none } = binaryen;

/** A new module that imports the backend's memory, with SIMD (and the threads feature, for `shared`). */
export function newModule(): binaryen.Module {
  const m = new binaryen.Module();
  m.setFeatures(
    binaryen.Features.SIMD128 |
      binaryen.Features.Atomics |
      binaryen.Features.BulkMemory |
      binaryen.Features.NontrappingFPToInt |
      binaryen.Features.SignExt |
      binaryen.Features.MutableGlobals,
  );
  m.setMemory(1, MAX_PAGES, null, [], SHARED, false, MEM);
  m.addMemoryImport(MEM, 'env', 'memory', SHARED);
  return m;
}

/** Validates `m`, then instantiates it over `memory` (`m` is disposed). */
export function instantiate(
  m: binaryen.Module,
  memory: WebAssembly.Memory,
  imports: Record<string, unknown> = {},
  optimize = false,
): WebAssembly.Instance {
  return compile(m, memory, imports, optimize).instance;
}

/** {@link instantiate}, with the compiled module too (for a thread pool's workers to instantiate). */
export function compile(
  m: binaryen.Module,
  memory: WebAssembly.Memory,
  imports: Record<string, unknown> = {},
  optimize = false,
): { module: WebAssembly.Module; instance: WebAssembly.Instance } {
  try {
    if (!m.validate()) throw new Error('wasm backend: a generated module failed validation (a bug in wgru)');
    // Generated elementwise kernels are not optimised by binaryen: that cost ~100 ms a kernel
    // (seconds per model) and gained nothing measurable. Fixed kernels (sgemm) compiled once are.
    if (optimize) {
      binaryen.setOptimizeLevel(3);
      m.optimize();
    }
    const bytes = m.emitBinary() as Uint8Array<ArrayBuffer>;
    const module = new WebAssembly.Module(bytes);
    return { module, instance: new WebAssembly.Instance(module, { env: { memory, ...imports } }) };
  } finally {
    m.dispose();
  }
}
