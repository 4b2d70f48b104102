/**
 * Builds the matmul's WebAssembly module with binaryen: the micro-kernels for every tile height,
 * packing, edge tiles and the blocked driver, importing one shared memory as `env.memory`. The same
 * compiled module is instantiated on the calling thread and in every worker, all on that memory.
 */
import binaryen from 'binaryen';
import { relaxedMadd } from './emit.js';
import { emitSgemm, emitSgemmChunk } from './driver.js';
import { emitGemv } from './gemv.js';
import { emitMacroKernel, emitTileCopies } from './macro.js';
import { emitMicroKernel, MR } from './microkernel.js';
import { emitPackA, emitPackB } from './pack.js';

/** Whether this engine validates relaxed-SIMD `f32x4.relaxed_madd` (Node 20's V8 only with a flag: ../v8-flags.ts). */
export function relaxedSimdAvailable(): boolean {
  const m = new binaryen.Module();
  try {
    m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.RelaxedSIMD);
    const v = binaryen.v128;
    const x = (i: number) => m.local.get(i, v);
    const body = relaxedMadd(m, x(0), x(1), x(2));
    m.addFunction('f', binaryen.createType([v, v, v]), v, [], body);
    return WebAssembly.validate(new Uint8Array(m.emitBinary()));
  } finally {
    m.dispose();
  }
}

/**
 * The module's bytes; `fma` selects relaxed-SIMD multiply-add in the micro-kernels, `shared` a
 * shared memory import (a memory's import must match its `shared` flag; a browser page that is not
 * cross-origin isolated has only plain memory).
 */
function sgemmModuleBytes(fma: boolean, shared = true): Uint8Array<ArrayBuffer> {
  const m = new binaryen.Module();
  try {
    let features = binaryen.Features.SIMD128 | binaryen.Features.Atomics | binaryen.Features.BulkMemory;
    if (fma) features |= binaryen.Features.RelaxedSIMD;
    m.setFeatures(features);
    m.setMemory(1, 65536, null, [], shared);
    m.addMemoryImport('0', 'env', 'memory', shared);
    for (let rows = 1; rows <= MR; rows++) emitMicroKernel(m, rows, fma);
    emitPackA(m);
    emitPackB(m);
    emitTileCopies(m);
    emitMacroKernel(m);
    emitSgemm(m);
    emitSgemmChunk(m);
    emitGemv(m, fma);
    if (!m.validate()) throw new Error('sgemm: generated WebAssembly module does not validate');
    m.optimize();
    return new Uint8Array(m.emitBinary());
  } finally {
    m.dispose();
  }
}

const cache = new Map<boolean, { fma: boolean; module: WebAssembly.Module }>();

/**
 * The compiled module for a shared (or plain) memory, built once per process; relaxed-SIMD FMA
 * where the engine validates it (`WGRU_WASM_FMA=0` turns it off).
 */
export function sgemmModule(shared: boolean): { fma: boolean; module: WebAssembly.Module } {
  let cached = cache.get(shared);
  if (!cached) {
    const off = typeof process !== 'undefined' && process.env?.WGRU_WASM_FMA === '0';
    const fma = !off && relaxedSimdAvailable();
    cached = { fma, module: new WebAssembly.Module(sgemmModuleBytes(fma, shared)) };
    cache.set(shared, cached);
  }
  return cached;
}
