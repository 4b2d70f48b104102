import { forwardCall, traced, Variable } from '@wgru/autograd';
import { describeValue } from './checks.js';
import {
  assign,
  CpuStorage,
  contiguousStrides,
  shapeString,
  type Tensor,
  Tensor as TensorClass,
  tensorOn,
  type TypedArray,
} from '@wgru/tensor';

/** A key as error messages show it. */
const quote = (k: string): string => `'${k}'`;

/** Throws, naming the key and the position (row-major), at the first NaN or ±Infinity of `t`'s view of `src`. */
function checkFinite(key: string, src: TypedArray, t: Pick<Tensor, 'shape' | 'strides' | 'offset' | 'size'>): void {
  const { shape, strides, offset, size } = t;
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0, at = offset; k < size; k++) {
    const x = src[at];
    if (!Number.isFinite(x))
      throw new Error(`loadStateDict: '${key}' holds a non-finite value (${x}) at position ${k}`);
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      at += strides[axis];
      index[axis] = index[axis] + 1;
      if (index[axis] < shape[axis]) break;
      at -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
  }
}

/**
 * A trainable Variable: `requiresGrad` is true. Modules find their parameters by this type.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   s = new Parameter(ones([1]));
 *   forward(x: Variable): Variable { return x.mul(this.s); }
 * }
 * new Scale().namedParameters().map(([name]) => name);   // ['s']
 * ```
 */
export class Parameter extends Variable {
  constructor(value: Tensor) {
    super(value, true);
  }
}

/**
 * Runs a module's forward `body` as ONE traced op (`traced` in @wgru/autograd's trace.ts). While
 * `exportOnnx` traces a model, a GRU is then a single op that becomes ONNX GRU nodes, rather than
 * the thousands of slices, matmuls and sigmoids it computes with; the exporter finds the module in
 * the op's attributes and its class says which ONNX operator it is. `inputs` are forward's
 * arguments in order; `outputs` picks the Variables of the result. Outside a trace it is `body()`.
 * A module of your own needs none of this: its ops are traced one by one.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   s = new Parameter(ones([1]));
 *   forward(x: Variable): Variable {
 *     return traceModule(this, [x], () => x.mul(this.s), (y) => [y]);   // one op 'module' in a trace
 *   }
 * }
 * ```
 */
export function traceModule<R>(
  m: Module,
  inputs: readonly unknown[],
  body: () => R,
  outputs: (result: R) => readonly Variable[],
): R {
  return traced('module', inputs, m, body, outputs);
}

/**
 * The base of every layer. Parameters and submodules are discovered from the object's own
 * properties by their types (a Parameter, a Module, or an array of Modules), so a subclass only
 * assigns fields; `namedParameters()` names them by property path (`l0.W`, `layers.1.b`).
 *
 * @example
 * ```ts
 * class TwoLayer extends Module {
 *   a = new Linear(4, 8);
 *   b = new Linear(8, 2);
 *   forward(x: Variable): Variable { return this.b.forward(this.a.forward(x).relu()); }
 * }
 * new TwoLayer().namedParameters().map(([n]) => n); // ['a.W', 'a.b', 'b.W', 'b.b']
 * ```
 */
export abstract class Module {
  /** Whether the module is in training mode (Dropout and GRU dropout act only then). */
  training = true;

  // As API.md (and PyTorch's Module): any arguments, any result; each module types its own.
  // biome-ignore lint/suspicious/noExplicitAny: the base of every module's own signature
  abstract forward(...args: any[]): any;

  constructor() {
    // Every call of `forward` runs inside `forwardCall`, as PyTorch's Module.__call__ wraps its
    // forward: what it returns to your code stays readable after backward() until the next one,
    // while what it made on the way is freed by backward() (see docs/lifetimes.md).
    const forward = this.forward as (...args: unknown[]) => unknown;
    Object.defineProperty(this, 'forward', {
      value: (...args: unknown[]) => forwardCall(() => forward.apply(this, args)),
      writable: true,
      configurable: true,
    });
  }

  /** Direct submodules with their property names. */
  namedChildren(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [key, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([key, v]);
      else if (Array.isArray(v)) {
        v.forEach((m, i) => {
          if (m instanceof Module) out.push([`${key}.${i}`, m]);
        });
      }
    }
    return out;
  }

  /** Every parameter of this module and its submodules, with dotted names, in definition order. */
  namedParameters(): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    const seen = new Set<Parameter>();
    const visit = (m: Module, prefix: string): void => {
      for (const [key, v] of Object.entries(m)) {
        if (v instanceof Parameter) {
          if (!seen.has(v)) out.push([prefix + key, v]);
          seen.add(v);
        }
      }
      for (const [key, child] of m.namedChildren()) visit(child, `${prefix}${key}.`);
    };
    visit(this, '');
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * The parameter values by name (the module's own tensors, not copies).
   *
   * @example
   * ```ts
   * const gru = new GRU({ inputSize: 3, hiddenSize: 4, resetAfter: true, seed: 0 });
   * Object.keys(gru.stateDict());   // ['l0.W', 'l0.U', 'l0.b', 'l0.c']
   * ```
   */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedParameters().map(([n, p]) => [n, p.value]));
  }

  /**
   * Copies values into the parameters. Each value is row-major in the parameter's own shape (a
   * Tensor of that shape, or a Float32Array of its size). Strict by default: a missing or
   * unexpected key, or a wrong shape, throws an Error that names the key and both shapes. All
   * entries are checked before any parameter is written.
   *
   * @example
   * ```ts
   * const fc = new Linear(2, 1);
   * fc.loadStateDict({ W: new Float32Array([0.5, -0.5]), b: tensor([0.1]) });   // W [2, 1], b [1]
   * try {
   *   fc.loadStateDict({ W: new Float32Array(3) });
   * } catch (e) {
   *   console.log((e as Error).message);   // names the key and both shapes
   * }
   * ```
   */
  loadStateDict(dict: Record<string, Tensor | Float32Array>, opts: { strict?: boolean } = {}): void {
    if (dict === null || typeof dict !== 'object' || Array.isArray(dict) || dict instanceof TensorClass) {
      throw new Error(
        `loadStateDict: dict must be an object of Tensors or Float32Arrays by parameter name, got ${describeValue(dict)}`,
      );
    }
    if (opts === null || typeof opts !== 'object')
      throw new Error(`loadStateDict: options must be an object, got ${describeValue(opts)}`);
    for (const k of Object.keys(opts)) if (k !== 'strict') throw new Error(`loadStateDict: unknown option '${k}'`);
    const strict = opts.strict ?? true;
    if (typeof strict !== 'boolean')
      throw new Error(`loadStateDict: strict must be true or false, got ${describeValue(strict)}`);
    const params = new Map(this.namedParameters());
    const missing = [...params.keys()].filter((k) => !Object.hasOwn(dict, k));
    const unexpected = Object.keys(dict).filter((k) => !params.has(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      throw new Error(
        `loadStateDict: ${[missing.length ? `missing keys: ${missing.map((k) => `${quote(k)} ${shapeString((params.get(k) as Parameter).shape)}`).join(', ')}` : '', unexpected.length ? `unexpected keys: ${unexpected.map(quote).join(', ')}` : ''].filter(Boolean).join('; ')} (the module's keys: ${[...params.keys()].map(quote).join(', ')})`,
      );
    }
    const writes: Array<[Parameter, Tensor | Float32Array]> = [];
    for (const [key, value] of Object.entries(dict)) {
      const p = params.get(key);
      if (!p) continue;
      if (value instanceof TensorClass) {
        if (value.disposed)
          throw new Error(`loadStateDict: '${key}' is a Tensor ${shapeString(value.shape)} that was already disposed`);
        if (value.rank !== p.rank || value.shape.some((d, i) => d !== p.shape[i])) {
          throw new Error(
            `loadStateDict: '${key}' has shape ${shapeString(value.shape)} but the parameter has shape ${shapeString(p.shape)}`,
          );
        }
        if (value.backend !== p.value.backend) {
          throw new Error(
            `loadStateDict: '${key}' lives on the ${value.backend.info.name} backend, the parameter on ${p.value.backend.info.name}; pass its values (await t.data()) instead`,
          );
        }
        if (value.dtype === 'int32')
          throw new Error(
            `loadStateDict: '${key}' is an int32 Tensor ${shapeString(value.shape)}; parameters take float values`,
          );
        // Values known on the host (the CPU backend's, or those loadSafetensors decoded) are
        // checked here; other WebGPU tensors would need an asynchronous read, so they load as
        // they are (pass a Float32Array to have them checked).
        const known = value.hostValues;
        if (known !== undefined)
          checkFinite(key, known, {
            shape: value.shape,
            strides: contiguousStrides(value.shape),
            offset: 0,
            size: value.size,
          });
        else if (value.storage instanceof CpuStorage) checkFinite(key, value.storage.array, value);
      } else if (value instanceof Float32Array) {
        if (value.length !== p.size) {
          throw new Error(
            `loadStateDict: '${key}' has ${value.length} values but the parameter has shape ${shapeString(p.shape)} (${p.size} values)`,
          );
        }
        for (let i = 0; i < value.length; i++) {
          if (!Number.isFinite(value[i]))
            throw new Error(`loadStateDict: '${key}' holds a non-finite value (${value[i]}) at position ${i}`);
        }
      } else {
        throw new Error(`loadStateDict: '${key}' must be a Tensor or a Float32Array, got ${describeValue(value)}`);
      }
      writes.push([p, value]);
    }
    for (const [p, value] of writes) {
      const src = value instanceof TensorClass ? value : tensorOn(p.value.backend, value, p.shape, 'float32');
      assign(p.value, src);
      if (src !== value) src.dispose();
    }
  }

  /** Training mode (the default): Dropout drops. */
  train(): this {
    this.training = true;
    for (const [, c] of this.namedChildren()) c.train();
    return this;
  }

  /** Evaluation mode: Dropout passes values through. */
  eval(): this {
    this.training = false;
    for (const [, c] of this.namedChildren()) c.eval();
    return this;
  }

  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Frees every parameter's value and gradient (the module is unusable afterwards), so that
   * `using model = new GRU(...)` gives its device memory back at the end of the block.
   */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }
}
