/**
 * Runs elementwise expressions on the wasm backend: the views are collapsed together into at most
 * two axes walked by the kernel (more are walked here, one kernel call per inner block), the
 * kernel for the expression's structure and the operands' layout is compiled once and cached,
 * and its parameters are written to a small block of the shared memory.
 * @module
 */
import type { View } from '../backend.js';
import { type Expr, exprKey } from '../expr.js';
import { compileElementwise, constNodes, type Mode } from './elementwise-compile.js';
import type { WasmHeap, WasmStorage } from './heap.js';
import { LIBRARY_IMPORTS } from './library.js';
import { instantiate } from './module.js';

type Run = (args: number) => void;

/**
 * Merges axes where every view is contiguous across them (size-1 axes dropped): returns the
 * merged shape and each view's strides along it. The row-major order is unchanged.
 */
function collapseTogether(
  shape: readonly number[],
  strides: ReadonlyArray<readonly number[]>,
): { shape: number[]; strides: number[][] } {
  const s: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let ax = 0; ax < shape.length; ax++) {
    const d = shape[ax];
    if (d === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && strides.every((v, j) => (st[j] as number[])[last] === v[ax] * d)) {
      s[last] = s[last] * d;
      strides.forEach((v, j) => {
        (st[j] as number[])[last] = v[ax];
      });
    } else {
      s.push(d);
      strides.forEach((v, j) => {
        (st[j] as number[]).push(v[ax]);
      });
    }
  }
  return { shape: s, strides: st };
}

const modeOf = (stride: number): Mode => (stride === 1 ? 'c' : stride === 0 ? 'b' : 's');

export class WasmElementwise {
  private readonly kernels = new Map<string, Run>();
  /** Byte offset of the parameter block (grown as needed). */
  private args = 0;
  private argsCapacity = 0;
  /** Kernels compiled so far (for tests and benchmarks). */
  compiled = 0;

  constructor(private readonly heap: WasmHeap) {}

  private kernel(expr: Expr, inModes: Mode[], outMode: 'c' | 's'): Run {
    const key = `${exprKey(expr)}|${inModes.join('')}|${outMode}`;
    let run = this.kernels.get(key);
    if (!run) {
      const inst = instantiate(compileElementwise(expr, inModes, outMode), this.heap.memory, LIBRARY_IMPORTS);
      run = inst.exports.run as Run;
      this.kernels.set(key, run);
      this.compiled++;
    }
    return run;
  }

  private argBlock(words: number): number {
    if (words * 4 > this.argsCapacity) {
      if (this.args) this.heap.release(this.args, this.argsCapacity);
      const { ptr, capacity } = this.heap.malloc(words * 4);
      this.args = ptr;
      this.argsCapacity = capacity;
    }
    return this.args;
  }

  /** out[i] = expr(inputs[0][i], ...); `out` must not overlap an input other than as the same view. */
  map(expr: Expr, inputs: readonly View[], out: View): void {
    const views = [out, ...inputs];
    const c = collapseTogether(
      out.shape,
      views.map((v) => v.strides),
    );
    const rank = c.shape.length;
    const cols = rank >= 1 ? c.shape[rank - 1] : 1;
    const rows = rank >= 2 ? c.shape[rank - 2] : 1;
    const colStride = (j: number) => (rank >= 1 ? (c.strides[j] as number[])[rank - 1] : 0);
    const rowStride = (j: number) => (rank >= 2 ? (c.strides[j] as number[])[rank - 2] : 0);
    const outMode = colStride(0) === 1 ? 'c' : 's';
    const run = this.kernel(
      expr,
      inputs.map((_, i) => modeOf(colStride(i + 1))),
      outMode,
    );
    const consts = constNodes(expr);
    const n = views.length;
    const args = this.argBlock(2 + 3 * n + consts.length);
    const w = args >> 2;
    const { i32: I, f32: F } = this.heap;
    I[w] = rows;
    I[w + 1] = cols;
    for (let j = 0; j < n; j++) {
      I[w + 3 + 3 * j] = rowStride(j) * 4;
      I[w + 4 + 3 * j] = colStride(j) * 4;
    }
    // constants in the dtype of their node, in the kernel's order
    consts.forEach((e, j) => {
      const value = e.kind === 'const' ? e.value : 0;
      if (e.dtype === 'int32') I[w + 2 + 3 * n + j] = value | 0;
      else F[w + 2 + 3 * n + j] = value;
    });
    const base = views.map((v) => (v.storage as WasmStorage).ptr + v.offset * 4);
    // outer axes (beyond the kernel's two): one call per inner block
    const outer = c.shape.slice(0, Math.max(rank - 2, 0));
    const idx = new Array<number>(outer.length).fill(0);
    const offs = base.slice();
    for (;;) {
      offs.forEach((o, j) => {
        I[w + 2 + 3 * j] = o;
      });
      run(args);
      let ax = outer.length - 1;
      for (; ax >= 0; ax--) {
        const i = idx[ax] + 1;
        const step = (j: number) => (c.strides[j] as number[])[ax] * 4;
        if (i < outer[ax]) {
          idx[ax] = i;
          offs.forEach((o, j) => {
            offs[j] = o + step(j);
          });
          break;
        }
        idx[ax] = 0;
        offs.forEach((o, j) => {
          offs[j] = o - (i - 1) * step(j);
        });
      }
      if (ax < 0) break;
    }
  }
}
