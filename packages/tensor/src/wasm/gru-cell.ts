/**
 * The fused GRU cell on the wasm backend (see cpu/recurrent.ts for the equations): x W + b and
 * h U through the sgemm, then the gates as ONE generated elementwise kernel over [B, H] (with
 * `resetAfter`; otherwise r ⊙ h first, its product with U_h, then the rest).
 * @module
 */
import type { GruCellArgs, View } from '../backend.js';
import { type Expr, inputLeaf } from '../expr.js';
import type { BinaryOp, UnaryOp } from '../ops/table.js';
import type { WasmBackend } from './backend.js';
import { matmulWasm } from './batched-matmul.js';

const F = 'float32' as const;
const inp = (index: number): Expr => inputLeaf(index, F);
const un = (op: UnaryOp, a: Expr): Expr => ({ kind: 'unary', op, a, dtype: F });
const bin = (op: BinaryOp, a: Expr, b: Expr): Expr => ({ kind: 'binary', op, a, b, dtype: F });
const ONE: Expr = { kind: 'const', value: 1, dtype: F };

/** (1 − z) ⊙ h + z ⊙ tanh(pre), z = σ(xz + hz): the cell's last step. */
const blend = (xz: Expr, hz: Expr, h: Expr, pre: Expr): Expr => {
  const z = un('sigmoid', bin('add', xz, hz));
  return bin('add', bin('mul', bin('sub', ONE, z), h), bin('mul', z, un('tanh', pre)));
};

// The gate expressions, built once (the elementwise kernels are found by the expression object).
const R = un('sigmoid', bin('add', inp(2), inp(3)));
/** resetAfter, inputs xz hz xr hr xh hh h [c]: with and without c. */
const AFTER = blend(inp(0), inp(1), inp(6), bin('add', inp(4), bin('mul', R, inp(5))));
const AFTER_C = blend(inp(0), inp(1), inp(6), bin('add', inp(4), bin('mul', R, bin('add', inp(5), inp(7)))));
/** resetAfter: false: r ⊙ h from xz hz xr hr h, then the blend from xz hz h xh hTerm. */
const RH = bin('mul', R, inp(4));
const BEFORE = blend(inp(0), inp(1), inp(2), bin('add', inp(3), inp(4)));

export function gruCellWasm(be: WasmBackend, { x, W, b, h, U, c, resetAfter, out }: GruCellArgs): void {
  const B = h.shape[0];
  const H = h.shape[1];
  const G = 3 * H;
  const temps = [] as ReturnType<WasmBackend['alloc']>[];
  const temp = (shape: number[]): View => {
    const s = be.alloc(
      F,
      shape.reduce((p, d) => p * d, 1),
    );
    temps.push(s);
    return be.contiguous(s, shape);
  };
  let xp = x;
  if (W) {
    xp = temp([B, G]);
    matmulWasm(be, x, W, xp, b);
  }
  const huCols = resetAfter ? G : 2 * H;
  const hu = temp([B, huCols]);
  const cols = (v: View, from: number, count: number): View => ({
    ...v,
    shape: [v.shape[0], count],
    offset: v.offset + from * v.strides[1],
  });
  matmulWasm(be, h, cols(U, 0, huCols), hu);
  const block = (v: View, g: number) => cols(v, g * H, H);
  if (resetAfter) {
    // inputs: xz hz xr hr xh hh h [c]
    const expr = c ? AFTER_C : AFTER;
    const views = [block(xp, 0), block(hu, 0), block(xp, 1), block(hu, 1), block(xp, 2), block(hu, 2), h];
    if (c) views.push({ ...c, shape: [B, H], strides: [0, c.strides[0]] });
    be.run(expr, views, out);
  } else {
    const rh = temp([B, H]);
    be.elementwise.map(RH, [block(xp, 0), block(hu, 0), block(xp, 1), block(hu, 1), h], rh);
    const hTerm = temp([B, H]);
    matmulWasm(be, rh, block(U, 2), hTerm);
    // inputs: xz hz h xh hTerm
    be.run(BEFORE, [block(xp, 0), block(hu, 0), h, block(xp, 2), hTerm], out);
  }
  for (const s of temps) be.free(s);
}
