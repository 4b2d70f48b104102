/**
 * Philox-4x32-10 in WebAssembly (see random/philox.ts for the definition and the CPU side): the
 * 32x32 -> 64-bit products as i64 multiplications. `run(out, n, k0, k1, mode)` writes, for counters
 * 0..n-1, either (mode 0) the uniform float32 (w0 >>> 8) * 2^-24 (exact, so bit-identical with the
 * other backends), or (mode 1) the words w0 and w1, two per element, for Box–Muller on the host.
 * @module
 */
import binaryen from 'binaryen';
import { i32, instantiate, MEM, newModule, none } from '../module.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

export type Philox = (out: number, n: number, k0: number, k1: number, mode: 0 | 1) => void;

function compilePhilox(): binaryen.Module {
  const m = newModule();
  const [OUT, N, K0, K1, MODE] = [0, 1, 2, 3, 4];
  const vars: number[] = [];
  const local = (t: number) => {
    vars.push(t);
    return 4 + vars.length;
  };
  const get = (l: number, t = i32) => m.local.get(l, t);
  const set = (l: number, v: number) => m.local.set(l, v);
  const c = (x: number) => m.i32.const(x | 0);
  const [i, x0, x1, x2, x3, k0, k1, y0, at] = Array.from({ length: 9 }, () => local(i32));
  const p0 = local(binaryen.i64);
  const p1 = local(binaryen.i64);
  const mul64 = (a: number, x: number) => m.i64.mul(m.i64.extend_u(c(a)), m.i64.extend_u(get(x)));
  const hi = (p: number) => m.i32.wrap(m.i64.shr_u(m.local.get(p, binaryen.i64), m.i64.const(32n)));
  const lo = (p: number) => m.i32.wrap(m.local.get(p, binaryen.i64));
  const rounds: number[] = [];
  for (let r = 0; r < 10; r++) {
    rounds.push(
      m.local.set(p0, mul64(M0, x0)),
      m.local.set(p1, mul64(M1, x2)),
      set(y0, m.i32.xor(m.i32.xor(hi(p1), get(x1)), get(k0))),
      set(x2, m.i32.xor(m.i32.xor(hi(p0), get(x3)), get(k1))),
      set(x0, get(y0)),
      set(x1, lo(p1)),
      set(x3, lo(p0)),
      set(k0, m.i32.add(get(k0), c(W0))),
      set(k1, m.i32.add(get(k1), c(W1))),
    );
  }
  const uniform = m.f32.store(
    0,
    4,
    m.i32.add(get(OUT), m.i32.shl(get(i), c(2))),
    m.f32.mul(m.f32.convert_u.i32(m.i32.shr_u(get(x0), c(8))), m.f32.const(2 ** -24)),
    MEM,
  );
  const words = m.block(null, [
    set(at, m.i32.add(get(OUT), m.i32.shl(get(i), c(3)))),
    m.i32.store(0, 4, get(at), get(x0), MEM),
    m.i32.store(4, 4, get(at), get(x1), MEM),
  ]);
  const body = m.block(null, [
    set(i, c(0)),
    m.block('done', [
      m.loop(
        'next',
        m.block(null, [
          m.br('done', m.i32.ge_u(get(i), get(N))),
          set(x0, get(i)),
          set(x1, c(0)),
          set(x2, c(0)),
          set(x3, c(0)),
          set(k0, get(K0)),
          set(k1, get(K1)),
          ...rounds,
          m.if(get(MODE), words, uniform),
          set(i, m.i32.add(get(i), c(1))),
          m.br('next'),
        ]),
      ),
    ]),
  ]);
  m.addFunction('run', binaryen.createType([i32, i32, i32, i32, i32]), none, vars, body);
  m.addFunctionExport('run', 'run');
  return m;
}

export function createPhilox(memory: WebAssembly.Memory): Philox {
  return instantiate(compilePhilox(), memory, {}, true).exports.run as Philox;
}
