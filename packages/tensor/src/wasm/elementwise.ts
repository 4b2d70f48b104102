/**
 * Runs elementwise expressions on the wasm backend: the views are collapsed together into at most
 * two axes walked by the kernel (more are walked here, one kernel call per inner block), the
 * kernel for the expression's structure and the operands' layout is compiled once and cached,
 * and its parameters are written to a small block of the shared memory.
 *
 * This runs for every elementwise op (thousands per training step), so it is written to allocate
 * little: kernels are found by the Expr object first (the ops reuse one object per op and dtypes,
 * see ops/elementwise.ts), and by its structural key only for a new object; the collapse writes
 * into scratch arrays; no closures. Measured on a [2, 2] add, where the kernel is negligible: 1.7 us
 * per call before, 0.12 us after.
 *
 * Long runs are split over the thread pool (./threads), one part per thread, by rows or by
 * columns (whole groups of four): every element is computed by the same code either way, so the
 * result does not depend on the split. Short ones stay on the calling thread.
 * @module
 */
import type { View } from '../backend.js';
import { type Expr, exprKey } from '../expr.js';
import { compileElementwise, constNodes, type Mode } from './elementwise-compile.js';
import type { WasmHeap, WasmStorage } from './heap.js';
import { LIBRARY_IMPORTS } from './library.js';
import { compile } from './module.js';
import type { ThreadPool } from './threads/pool.js';

/** A compiled kernel: `run(args)` on this thread; `module` for the pool's workers, or null. */
interface Kernel {
  run: (args: number) => void;
  /** Null where the kernel imports JavaScript functions (library.ts), which workers do not have. */
  module: WebAssembly.Module | null;
}

/**
 * Elements from which a run is split over the pool, when a worker is awake (spinning after a
 * job): a GRU gate at B = 64, H = 256 (16K elements, ~15 us on one thread) gains, one at B = 32,
 * H = 128 (4K, ~3 us) would not.
 */
const SPLIT_MIN = 1 << 13;
/** Elements from which a split run also wakes a sleeping worker (waking costs ~20 us). */
const WAKE_MIN = 1 << 18;

/** What is known of one Expr object: its constants, and its kernels by layout code. */
interface ExprKernels {
  key: string;
  consts: Expr[];
  runs: Map<number, Kernel>;
}

const MODES: readonly Mode[] = ['c', 'b', 's'];
/** A stride's mode as its digit in a layout code: contiguous 0, broadcast 1, strided 2. */
const modeDigit = (stride: number): number => (stride === 1 ? 0 : stride === 0 ? 1 : 2);

export class WasmElementwise {
  private readonly kernels = new Map<string, Kernel>();
  private readonly byExpr = new WeakMap<Expr, ExprKernels>();
  /** Byte offset of the parameter block (grown as needed). */
  private args = 0;
  private argsCapacity = 0;
  /** Scratch for the collapsed views: sizes of the merged axes, and strides [axis * views + view]. */
  private readonly dims: number[] = [];
  private readonly steps: number[] = [];
  private readonly offs: number[] = [];
  private readonly idx: number[] = [];
  /** Kernels compiled so far (for tests and benchmarks). */
  compiled = 0;

  /** @param pool the threads long runs are split over (see the file comment), or null: all on this one */
  constructor(
    private readonly heap: WasmHeap,
    private readonly pool: ThreadPool | null = null,
  ) {}

  private entry(expr: Expr): ExprKernels {
    let e = this.byExpr.get(expr);
    if (e === undefined) {
      e = { key: exprKey(expr), consts: constNodes(expr), runs: new Map() };
      this.byExpr.set(expr, e);
    }
    return e;
  }

  /** The kernel for `expr` with the layout `code` (a base-3 digit per input, then the output's). */
  private kernel(e: ExprKernels, expr: Expr, code: number, inputs: number): Kernel {
    let kernel = e.runs.get(code);
    if (kernel !== undefined) return kernel;
    const inModes: Mode[] = [];
    let rest = code;
    for (let i = 0; i < inputs; i++, rest = Math.floor(rest / 3)) inModes.push(MODES[rest % 3] as Mode);
    const outMode = rest === 0 ? 'c' : 's';
    const key = `${e.key}|${inModes.join('')}|${outMode}`;
    kernel = this.kernels.get(key);
    if (kernel === undefined) {
      const { module, instance } = compile(
        compileElementwise(expr, inModes, outMode),
        this.heap.memory,
        LIBRARY_IMPORTS,
      );
      const jsImports = WebAssembly.Module.imports(module).some((i) => i.kind === 'function');
      kernel = { run: instance.exports.run as Kernel['run'], module: jsImports ? null : module };
      this.kernels.set(key, kernel);
      this.compiled++;
    }
    e.runs.set(code, kernel);
    return kernel;
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

  /**
   * Merges axes where every view is contiguous across them (size-1 axes dropped) into `dims` and
   * `steps` (view 0 is `out`, then the inputs); the row-major order is unchanged. Returns the rank.
   */
  private collapse(out: View, inputs: readonly View[]): number {
    const { dims, steps } = this;
    const n = inputs.length + 1;
    const shape = out.shape;
    let rank = 0;
    for (let ax = 0; ax < shape.length; ax++) {
      const d = shape[ax] as number;
      if (d === 1) continue;
      let merge = rank > 0 && steps[(rank - 1) * n] === (out.strides[ax] as number) * d;
      for (let j = 1; merge && j < n; j++)
        merge = steps[(rank - 1) * n + j] === ((inputs[j - 1] as View).strides[ax] as number) * d;
      const at = merge ? rank - 1 : rank;
      if (merge) dims[at] = (dims[at] as number) * d;
      else dims[rank++] = d;
      steps[at * n] = out.strides[ax] as number;
      for (let j = 1; j < n; j++) steps[at * n + j] = (inputs[j - 1] as View).strides[ax] as number;
    }
    return rank;
  }

  /** out[i] = expr(inputs[0][i], ...); `out` must not overlap an input other than as the same view. */
  map(expr: Expr, inputs: readonly View[], out: View): void {
    const { dims, steps, offs, idx } = this;
    const n = inputs.length + 1;
    const rank = this.collapse(out, inputs);
    const cols = rank >= 1 ? (dims[rank - 1] as number) : 1;
    const rows = rank >= 2 ? (dims[rank - 2] as number) : 1;
    const colAt = (rank - 1) * n; // index of view 0's column stride in `steps` (when rank >= 1)
    const rowAt = (rank - 2) * n;
    // the layout code: each input's mode, then the output's (contiguous or strided)
    let code = 0;
    let digit = 1;
    for (let j = 1; j < n; j++, digit *= 3) code += digit * (rank >= 1 ? modeDigit(steps[colAt + j] as number) : 1);
    if (rank < 1 || steps[colAt] !== 1) code += digit * 2; // a scalar output is 'strided' (stride 0)
    const e = this.entry(expr);
    const kernel = this.kernel(e, expr, code, n - 1);
    const consts = e.consts;
    const args = this.argBlock(2 + 3 * n + consts.length);
    const w = args >> 2;
    const { i32: I, f32: F } = this.heap;
    I[w] = rows;
    I[w + 1] = cols;
    for (let j = 0; j < n; j++) {
      I[w + 3 + 3 * j] = rank >= 2 ? (steps[rowAt + j] as number) * 4 : 0;
      I[w + 4 + 3 * j] = rank >= 1 ? (steps[colAt + j] as number) * 4 : 0;
    }
    // constants in the dtype of their node, in the kernel's order
    for (let j = 0; j < consts.length; j++) {
      const c = consts[j] as Expr;
      const value = c.kind === 'const' ? c.value : 0;
      if (c.dtype === 'int32') I[w + 2 + 3 * n + j] = value | 0;
      else F[w + 2 + 3 * n + j] = value;
    }
    offs[0] = (out.storage as WasmStorage).ptr + out.offset * 4;
    for (let j = 1; j < n; j++) {
      const v = inputs[j - 1] as View;
      offs[j] = (v.storage as WasmStorage).ptr + v.offset * 4;
    }
    // outer axes (beyond the kernel's two): one call per inner block
    const outer = Math.max(rank - 2, 0);
    const pool = this.pool;
    if (outer === 0 && pool !== null && kernel.module !== null && rows * cols >= SPLIT_MIN) {
      for (let j = 0; j < n; j++) I[w + 2 + 3 * j] = offs[j] as number;
      const parts = pool.size;
      // by rows where there are enough, else by columns in whole groups of four
      const rowStep = rows >= parts ? Math.ceil(rows / parts) : 0;
      const colStep = rowStep ? 0 : Math.ceil(cols / parts / 4) * 4;
      pool.run(kernel.module, 'chunk', parts, [args, rowStep, colStep], rows * cols >= WAKE_MIN);
      return;
    }
    const run = kernel.run;
    for (let ax = 0; ax < outer; ax++) idx[ax] = 0;
    for (;;) {
      for (let j = 0; j < n; j++) I[w + 2 + 3 * j] = offs[j] as number;
      run(args);
      let ax = outer - 1;
      for (; ax >= 0; ax--) {
        const i = (idx[ax] as number) + 1;
        if (i < (dims[ax] as number)) {
          idx[ax] = i;
          for (let j = 0; j < n; j++) offs[j] = (offs[j] as number) + (steps[ax * n + j] as number) * 4;
          break;
        }
        idx[ax] = 0;
        for (let j = 0; j < n; j++) offs[j] = (offs[j] as number) - (i - 1) * (steps[ax * n + j] as number) * 4;
      }
      if (ax < 0) break;
    }
  }
}
