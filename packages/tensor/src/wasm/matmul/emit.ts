/**
 * A thin layer over binaryen's expression builder for the matmul's generated functions: named
 * locals, counted loops, and the few memory accesses the kernels use. Everything here only builds
 * binaryen expressions; nothing runs until the module is compiled.
 */
import binaryen from 'binaryen';

export type Expr = number;
const i32 = binaryen.i32;
export const v128 = binaryen.v128;

/** One function under construction: parameters and locals by name, and its module. */
/** `f32x4.relaxed_madd(a, b, c)` = a * b + c; binaryen.js 132 has it only in its C API. */
export function relaxedMadd(m: binaryen.Module, a: Expr, b: Expr, c: Expr): Expr {
  const api = binaryen as unknown as {
    _BinaryenSIMDTernary(module: number, op: number, a: Expr, b: Expr, c: Expr): Expr;
    RelaxedMaddVecF32x4: number;
  };
  return api._BinaryenSIMDTernary(m.ptr, api.RelaxedMaddVecF32x4, a, b, c);
}

export class FnBuilder {
  readonly vars: number[] = [];
  private readonly index = new Map<string, { i: number; type: number }>();
  private labels = 0;

  constructor(
    readonly m: binaryen.Module,
    readonly params: readonly string[],
  ) {
    params.forEach((p, i) => {
      this.index.set(p, { i, type: i32 });
    });
  }

  /** Declares a local (i32 unless told) and returns its name. */
  local(name: string, type: number = i32): string {
    if (this.index.has(name)) throw new Error(`emit: local ${name} declared twice`);
    this.index.set(name, { i: this.params.length + this.vars.length, type });
    this.vars.push(type);
    return name;
  }

  get(name: string): Expr {
    const l = this.slot(name);
    return this.m.local.get(l.i, l.type);
  }

  set(name: string, value: Expr): Expr {
    return this.m.local.set(this.slot(name).i, value);
  }

  /** i32 constant. */
  c(value: number): Expr {
    return this.m.i32.const(value);
  }

  /** `name += delta` for a constant delta (i32). */
  inc(name: string, delta: number): Expr {
    return this.set(name, this.m.i32.add(this.get(name), this.c(delta)));
  }

  /** `name += delta` for a computed delta (binaryen expressions are numbers too, hence two methods). */
  bump(name: string, delta: Expr): Expr {
    return this.set(name, this.m.i32.add(this.get(name), delta));
  }

  /** Runs `body` while `cond` (checked before each pass) holds. */
  while(cond: () => Expr, body: Expr[]): Expr {
    const id = this.labels++;
    const out = `out${id}`;
    const top = `top${id}`;
    const m = this.m;
    return m.block(out, [m.loop(top, m.block(null, [m.br(out, m.i32.eqz(cond())), ...body, m.br(top)]))]);
  }

  /** `for (name = from; name < to; name += step)`, signed comparison. */
  for(name: string, from: Expr, to: () => Expr, step: number, body: Expr[]): Expr {
    return this.m.block(null, [
      this.set(name, from),
      this.while(() => this.m.i32.lt_s(this.get(name), to()), [...body, this.inc(name, step)]),
    ]);
  }

  /** `min(limit, total - at)` for locals `total` and `at`: what is left of a loop's range, capped. */
  upTo(limit: number, total: string, at: string): Expr {
    return this.min(
      () => this.c(limit),
      () => this.m.i32.sub(this.get(total), this.get(at)),
    );
  }

  /** min(a, b), signed; a and b are built twice, so they come as builders. */
  min(a: () => Expr, b: () => Expr): Expr {
    return this.m.select(this.m.i32.lt_s(a(), b()), a(), b());
  }

  /** Adds the function to the module and exports it under the same name. */
  finish(name: string, body: Expr[], exported = true): void {
    const params = binaryen.createType(this.params.map(() => i32));
    this.m.addFunction(name, params, binaryen.none, this.vars, this.m.block(null, body));
    if (exported) this.m.addFunctionExport(name, name);
  }

  private slot(name: string): { i: number; type: number } {
    const l = this.index.get(name);
    if (!l) throw new Error(`emit: unknown local ${name}`);
    return l;
  }
}
