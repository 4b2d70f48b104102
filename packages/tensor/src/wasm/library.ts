/**
 * The library functions the op table's wasm emitters call (`w.lib('exp', x)`), added to a module
 * on first use. This is the plain version: each lane goes through the op table's own CPU function
 * (float64 `Math`, imported from JavaScript) and is rounded to float32, so it is as exact as the
 * oracle itself.
 * @module
 */
import binaryen from 'binaryen';
import { binaryOps, unaryOps } from '../ops/table.js';
import { f64, v128 } from './module.js';
import type { LibFn } from './simd-ops.js';

/** The JavaScript functions a module with library calls imports (per lane, float64). */
export const LIBRARY_IMPORTS: Record<LibFn, (...x: number[]) => number> = {
  exp: unaryOps.exp.cpu,
  log: unaryOps.log.cpu,
  sigmoid: unaryOps.sigmoid.cpu,
  tanh: unaryOps.tanh.cpu,
  sin: unaryOps.sin.cpu,
  cos: unaryOps.cos.cpu,
  pow: binaryOps.pow.cpu,
};

/**
 * Whether fastmath.ts's SIMD versions, emitted inline, replace the calls to the lane-by-lane
 * functions below where they exist.
 */
export const libraryOptions = { fast: true };

/** Adds `$fn`: (v128 [, v128]) -> v128, lane by lane through the imported JavaScript function. */
export function addLibraryFunction(m: binaryen.Module, fn: LibFn): void {
  if (m.getFunction(fn)) return;
  const arity = fn === 'pow' ? 2 : 1;
  m.addFunctionImport(`js_${fn}`, 'env', fn, binaryen.createType(new Array(arity).fill(f64)), f64);
  const lane = (l: number) => {
    const args = Array.from({ length: arity }, (_, a) => m.f64.promote(m.f32x4.extract_lane(m.local.get(a, v128), l)));
    return m.f32.demote(m.call(`js_${fn}`, args, f64));
  };
  let v = m.f32x4.splat(lane(0));
  for (let l = 1; l < 4; l++) v = m.f32x4.replace_lane(v, l, lane(l));
  m.addFunction(fn, binaryen.createType(new Array(arity).fill(v128)), v128, [], v);
}
