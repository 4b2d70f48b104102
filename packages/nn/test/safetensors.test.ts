import { variable } from '@wgru/autograd';
import { cpuBackend, setBackend, type Tensor, tensor, transpose } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { FC_SEED, forEachBackend } from '../../../test-support/backends.js';
import { Linear } from '../src/layers/linear.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
  saveSafetensorsSync,
} from '../src/safetensors/index.js';

/** A state dict with every case a writer meets: dtypes, a scalar, an empty tensor, a strided view. */
function sampleStateDict(): Record<string, Tensor> {
  return {
    'layer.W': tensor([
      [1.5, -2, 3.25],
      [0.1, 1e-30, -7e20],
    ]),
    'layer.b': tensor([0.5, -0.25, Number.POSITIVE_INFINITY]),
    steps: tensor([1, -2, 2147483647, -2147483648], [4], 'int32'),
    scale: tensor(0.75),
    empty: tensor([], [0, 3]),
    transposed: transpose(
      tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    ), // not contiguous: [[1, 4], [2, 5], [3, 6]]
  };
}

async function expectSameTensors(actual: Record<string, Tensor>, expected: Record<string, Tensor>): Promise<void> {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, e] of Object.entries(expected)) {
    const a = actual[key] as Tensor;
    expect({ key, dtype: a.dtype, shape: a.shape }).toEqual({ key, dtype: e.dtype, shape: e.shape });
    expect(Array.from(await a.data())).toEqual(Array.from(await e.data()));
  }
}

forEachBackend('safetensors', (name) => {
  beforeAll(async () => {
    await setBackend(name);
  });

  it('save → load gives identical tensors (dtype, shape, values)', async () => {
    const dict = sampleStateDict();
    const bytes = await saveSafetensors(dict, { format: 'pt' });
    const loaded = loadSafetensors(bytes);
    await expectSameTensors(loaded, dict);
    for (const t of Object.values(loaded)) expect(t.backend).toBe(dict.scale?.backend);
    expect(decodeSafetensors(bytes).metadata).toEqual({ format: 'pt' });
  });

  it('saveSafetensors returns a Promise on every backend; the synchronous variant works on the CPU and points to it elsewhere', async () => {
    const dict = sampleStateDict();
    const pending = saveSafetensors(dict);
    expect(pending).toBeInstanceOf(Promise);
    const bytes = await pending;
    if (name === 'cpu') {
      expect(saveSafetensorsSync(dict)).toEqual(bytes);
      await expectSameTensors(loadSafetensors(saveSafetensorsSync(dict)), dict);
    } else {
      expect(() => saveSafetensorsSync(dict)).toThrow(
        /saveSafetensorsSync: 'layer\.W' lives on the (webgpu|wasm) backend.*await saveSafetensors\(stateDict\)/,
      );
    }
  });

  it('a model reloaded from its bytes gives identical outputs', async () => {
    const model = new Linear(3, 4, { seed: 1 });
    const other = new Linear(3, 4, { seed: 2 });
    const x = variable([
      [0.5, -1, 2],
      [3, 0.25, -0.75],
    ]);
    const before = Array.from(await model.forward(x).data());
    expect(Array.from(await other.forward(x).data())).not.toEqual(before);
    other.loadStateDict(loadSafetensors(await saveSafetensors(model.stateDict())));
    expect(Array.from(await other.forward(x).data())).toEqual(before);
  });

  it('float64 loads as float64 on the CPU and is rounded to float32 on WebGPU', async () => {
    const bytes = encodeSafetensors({ x: { dtype: 'float64', shape: [2], data: Float64Array.from([0.1, -2.5]) } });
    const x = loadSafetensors(bytes).x as Tensor;
    expect(x.dtype).toBe(name === 'cpu' ? 'float64' : 'float32');
    expect(Array.from(await x.data())).toEqual(name === 'cpu' ? [0.1, -2.5] : [Math.fround(0.1), -2.5]);
  });

  it('fuzz: corrupted bytes load or throw a readable Error, never crash or hang', () => {
    const valid = encodeSafetensors({
      a: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      b: { dtype: 'int32', shape: [2], data: Int32Array.from([7, -8]) },
      c: { dtype: 'float64', shape: [], data: Float64Array.from([0.5]) },
    });
    const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
    const mutation = fc.oneof(
      // overwrite a few bytes anywhere (the header most of the time: that is where parsing happens)
      fc
        .array(fc.tuple(fc.nat({ max: headerEnd - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        })
        .map((edits) => (b: Uint8Array) => {
          const out = b.slice();
          for (const [i, v] of edits) out[i] = v;
          return out;
        }),
      fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, v]) => (b: Uint8Array) => {
        const out = b.slice();
        out[i] = v;
        return out;
      }),
      // truncate, or append junk
      fc.nat({ max: valid.length - 1 }).map((n) => (b: Uint8Array) => b.slice(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((junk) => (b: Uint8Array) => Uint8Array.from([...b, ...junk])),
      // a hostile header length (up to 2^64 - 1)
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => (b: Uint8Array) => {
        const out = b.slice();
        new DataView(out.buffer).setBigUint64(0, n, true);
        return out;
      }),
      // a different header: huge shapes, offsets out of range, wrong dtypes, odd JSON
      fc
        .record({
          dtype: fc.constantFrom('F32', 'F64', 'I32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'f32', ''),
          shape: fc.array(fc.oneof(fc.nat(10), fc.constant(2 ** 40), fc.constant(-1), fc.constant(1.5)), {
            maxLength: 4,
          }),
          begin: fc.oneof(fc.nat(64), fc.constant(2 ** 53)),
          end: fc.oneof(fc.nat(64), fc.constant(2 ** 60)),
        })
        .map((e) => () => {
          const json = new TextEncoder().encode(
            JSON.stringify({ x: { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] } }),
          );
          const out = new Uint8Array(8 + json.length + 24);
          new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
          out.set(json, 8);
          return out;
        }),
    );
    fc.assert(
      fc.property(mutation, (mutate) => {
        const bytes = mutate(valid);
        const started = performance.now();
        try {
          const loaded = loadSafetensors(bytes);
          for (const t of Object.values(loaded)) t.dispose();
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          const message = (e as Error).message;
          expect(message).toMatch(/^safetensors: \S/);
          expect(message.length).toBeLessThan(400);
        }
        expect(performance.now() - started).toBeLessThan(1000);
      }),
      { seed: FC_SEED, numRuns: name === 'cpu' ? 500 : 200 },
    );
  });
});

describe('safetensors argument checks', () => {
  it('names the key of a value that is not a Tensor', async () => {
    const p = variable([1, 2]);
    expect(() => saveSafetensorsSync({ w: p as never })).toThrow(
      /saveSafetensorsSync: 'w' must be a Tensor, got Variable \(pass its \.value\)/,
    );
    await expect(saveSafetensors({ w: 3 as never })).rejects.toThrow(
      /saveSafetensors: 'w' must be a Tensor, got number/,
    );
    const t = tensor([1]);
    t.dispose();
    expect(() => saveSafetensorsSync({ t })).toThrow(/'t' was disposed/);
    await expect(saveSafetensors({ t })).rejects.toThrow(/'t' was disposed/);
    expect(() => loadSafetensors(new Uint8Array(4))).toThrow(/^safetensors: file is 4 bytes/);
    expect(() => loadSafetensors([1, 2] as never)).toThrow(/safetensors: input must be a Uint8Array/);
    expect(() => loadSafetensors(new Uint8Array(8), { device: 'cpu' } as never)).toThrow(
      /loadSafetensors: unknown option 'device'/,
    );
  });

  it('loads onto a given backend', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'float64', shape: [1], data: Float64Array.from([1]) } });
    const x = loadSafetensors(bytes, { backend: cpuBackend() }).x as Tensor;
    expect(x.backend).toBe(cpuBackend());
    expect(x.dtype).toBe('float64');
  });
});

describe('loadSafetensors from a Node Buffer', () => {
  it('reads a file read with readFileSync (a view into a pooled buffer) correctly', async () => {
    const { Buffer } = await import('node:buffer');
    const bytes = encodeSafetensors({
      w: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    });
    // Small Buffers share Node's pool: the file's bytes sit at an offset inside a larger ArrayBuffer.
    const pooled = Buffer.from(bytes);
    expect(pooled.buffer.byteLength).toBeGreaterThan(bytes.length);
    const w = loadSafetensors(pooled).w!;
    expect(Array.from(await w.data())).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
