/**
 * Errors at call time: every bad call below must throw synchronously, before anything is
 * recorded for the device, with a message that names the op and the shapes (or the values) that
 * are wrong, so that the user can find the line at fault without a debugger.
 */
import {
  add,
  argmax,
  assign,
  type Backend,
  cast,
  concat,
  cpuBackend,
  type DType,
  engineStats,
  exp,
  full,
  gather,
  logSumExp,
  matmul,
  max,
  mul,
  oneHot,
  permute,
  randn,
  reshape,
  scatterAdd,
  setBackend,
  slice,
  softmax,
  squeeze,
  stack,
  sum,
  type Tensor,
  tensor,
  tensorOn,
  uniform,
  unsqueeze,
  where,
  zeros,
  broadcastTo,
} from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { deviceUnderTest, DUT_NAME } from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});

const x23 = () =>
  tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
const idx = (values: number[]) => tensor(values, undefined, 'int32');
/** Zeros uploaded from the host: an operand made without running a kernel. */
const z = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

/** A bad call, and what its message must contain (all of the patterns). */
interface BadCall {
  name: string;
  call: () => unknown;
  message: RegExp[];
  /** Only where the device under test is WebGPU. */
  webgpuOnly?: boolean;
}

const BAD: BadCall[] = [
  {
    name: 'add of unbroadcastable shapes',
    call: () => add(x23(), tensor([1, 2, 3, 4])),
    message: [/^add:/, /\[2, 3\]/, /\[4\]/],
  },
  {
    name: 'where of unbroadcastable shapes',
    call: () => where(tensor([1, 0]), x23(), 0),
    message: [/^where:/, /\[2\]/, /\[2, 3\]/],
  },
  {
    name: 'mul with a string operand',
    call: () => mul(x23(), 'two' as unknown as number),
    message: [/^mul:/, /operand 1/, /string/],
  },
  {
    name: 'matmul inner dimensions',
    call: () => matmul(x23(), z([4, 5])),
    message: [/^matmul:/, /\[2, 3\]/, /\[4, 5\]/, /3 vs 4/],
  },
  {
    name: 'matmul batch axes',
    call: () => matmul(z([2, 2, 3]), z([3, 3, 4])),
    message: [/^matmul:/, /\[2, 2, 3\]/, /\[3, 3, 4\]/, /batch/],
  },
  { name: 'matmul of a 0-d tensor', call: () => matmul(tensor(2), x23()), message: [/^matmul:/, /\[\]/, /\[2, 3\]/] },
  { name: 'sum over an axis out of range', call: () => sum(x23(), 2), message: [/^sum:/, /axis 2/, /\[2, 3\]/] },
  {
    name: 'max over a repeated axis',
    call: () => max(x23(), [1, -1]),
    message: [/^max:/, /repeated axis/, /\[2, 3\]/],
  },
  {
    name: 'argmax over an empty axis',
    call: () => argmax(z([2, 0]), 1),
    message: [/^argmax:/, /zero-size/, /\[2, 0\]/],
  },
  { name: 'softmax axis out of range', call: () => softmax(x23(), -3), message: [/^softmax:/, /axis -3/, /\[2, 3\]/] },
  {
    name: 'logSumExp axis not an integer',
    call: () => logSumExp(x23(), 0.5),
    message: [/^logSumExp:/, /axis 0.5/, /\[2, 3\]/],
  },
  {
    name: 'reshape to another size',
    call: () => reshape(x23(), [4, 2]),
    message: [/^reshape:/, /\[2, 3\]/, /\[4, 2\]/],
  },
  { name: 'reshape with two -1', call: () => reshape(x23(), [-1, -1]), message: [/^reshape:/, /-1/] },
  {
    name: 'permute that is not a permutation',
    call: () => permute(x23(), [0, 0]),
    message: [/^permute:/, /\[0,0\]/, /\[2, 3\]/],
  },
  {
    name: 'permute axis out of range',
    call: () => permute(x23(), [0, 2]),
    message: [/^permute:/, /axis 2/, /\[2, 3\]/],
  },
  { name: 'slice out of bounds', call: () => slice(x23(), [1, 2], [2, 1]), message: [/^slice:/, /\[2, 3\]/, /axis 0/] },
  {
    name: 'broadcastTo an incompatible shape',
    call: () => broadcastTo(x23(), [3, 3]),
    message: [/^broadcastTo:/, /\[2, 3\]/, /\[3, 3\]/],
  },
  {
    name: 'squeeze of an axis that is not 1',
    call: () => squeeze(x23(), 0),
    message: [/^squeeze:/, /\[2, 3\]/, /size 2/],
  },
  {
    name: 'unsqueeze axis out of range',
    call: () => unsqueeze(x23(), 4),
    message: [/^unsqueeze:/, /axis 4/, /\[2, 3\]/],
  },
  {
    name: 'concat of mismatched shapes',
    call: () => concat([x23(), z([3, 3])], 1),
    message: [/^concat:/, /\[3, 3\]/, /\[2, 3\]/],
  },
  {
    name: 'concat of 0-d tensors',
    call: () => concat([tensor(1), tensor(2)], 0),
    message: [/^concat:/, /0-d/, /stack/],
  },
  {
    name: 'stack of mismatched shapes',
    call: () => stack([x23(), z([3, 2])]),
    message: [/^stack:/, /\[3, 2\]/, /\[2, 3\]/],
  },
  {
    name: 'gather index out of range',
    call: () => gather(x23(), idx([0, 3]), 1),
    message: [/^gather:/, /index 3/, /\[2, 3\]/, /size 3/],
  },
  {
    name: 'gather negative index out of range',
    call: () => gather(x23(), idx([-3]), 0),
    message: [/^gather:/, /index -3/, /\[2, 3\]/],
  },
  {
    name: 'gather with float indices',
    call: () => gather(x23(), tensor([0, 1]), 0),
    message: [/^gather:/, /int32/, /float32/],
  },
  {
    name: 'scatterAdd src of the wrong shape',
    call: () => scatterAdd([3, 2], idx([0, 1]), z([3, 2]), 0),
    message: [/^scatterAdd:/, /\[3, 2\]/, /\[2, 2\]/],
  },
  {
    name: 'scatterAdd index out of range',
    call: () => scatterAdd([3, 2], idx([0, 5]), z([2, 2]), 0),
    message: [/^scatterAdd:/, /index 5/, /\[3, 2\]/],
  },
  { name: 'oneHot index beyond depth', call: () => oneHot(idx([1, 4]), 3), message: [/^oneHot:/, /index 4/, /size 3/] },
  { name: 'oneHot depth zero', call: () => oneHot(idx([0]), 0), message: [/^oneHot:/, /depth/] },
  { name: 'cast to an unknown dtype', call: () => cast(x23(), 'float16' as DType), message: [/^cast:/, /float16/] },
  {
    name: 'assign into a broadcast view',
    call: () => assign(broadcastTo(tensor([1, 2, 3]), [2, 3]), 0),
    message: [/^assign:/, /\[2, 3\]/, /broadcast/],
  },
  { name: 'ragged nested arrays', call: () => tensor([[1, 2], [3]]), message: [/^tensor:/, /ragged/, /\[1\]/] },
  {
    name: 'a number where a row belongs',
    call: () => tensor([[1, 2], 3] as unknown as number[][]),
    message: [/^tensor:/, /\[1\]/],
  },
  {
    name: 'values that do not fill the shape',
    call: () => tensor([1, 2, 3], [2, 2]),
    message: [/^tensor:/, /3 values/, /\[2, 2\]/],
  },
  {
    name: 'int32 from fractions',
    call: () => tensor([1.5], undefined, 'int32'),
    message: [/^tensor:/, /int32/, /1\.5/],
  },
  {
    name: 'int32 beyond its range',
    call: () => tensor([3e9], undefined, 'int32'),
    message: [/^tensor:/, /int32/, /3000000000/],
  },
  { name: 'full int32 with a fraction', call: () => full([2], 0.5, 'int32'), message: [/^full:/, /int32/, /0\.5/] },
  { name: 'zeros with a negative axis', call: () => zeros([2, -1]), message: [/^zeros:/, /\[2,-1\]/] },
  {
    name: 'randn with an unknown option',
    call: () => randn([2], { sed: 1 } as unknown as { seed: number }),
    message: [/^randn:/, /unknown option 'sed'/],
  },
  { name: 'randn with a bad seed', call: () => randn([2], { seed: -1 }), message: [/^randn:/, /seed/, /-1/] },
  { name: 'uniform with low > high', call: () => uniform([2], 1, 0), message: [/^uniform:/, /1, 0/] },
  {
    name: 'an operand used after dispose',
    call: () => {
      const t = x23();
      t.dispose();
      return exp(t);
    },
    message: [/^exp:/, /\[2, 3\]/, /disposed/],
  },
  {
    name: 'float64 data on webgpu',
    call: () => tensor(new Float64Array([1, 2])),
    message: [/^tensor:/, /float64/, /CPU/],
    webgpuOnly: true,
  },
  {
    name: 'a float64 tensor made on webgpu',
    call: () => zeros([2], 'float64'),
    message: [/^zeros:/, /float64/, /webgpu/],
    webgpuOnly: true,
  },
  {
    name: 'cast to float64 on webgpu',
    call: () => cast(x23(), 'float64'),
    message: [/^cast:/, /float64/, /webgpu/],
    webgpuOnly: true,
  },
  {
    name: 'operands on different backends',
    call: () => add(x23(), tensorOn(cpuBackend(), [1, 2, 3])),
    message: [/^add:/, /different backends/, /webgpu/, /cpu/],
    webgpuOnly: true,
  },
  {
    name: 'a tensor beyond the binding size limit',
    call: () => zeros([Math.floor(dut.maxBufferBytes / 4) + 1]),
    message: [/^zeros:/, /float32/, /more than the webgpu adapter can bind/],
    webgpuOnly: true,
  },
];

describe(`errors at call time on ${DUT_NAME}`, () => {
  for (const bad of BAD) {
    it.skipIf(bad.webgpuOnly === true && DUT_NAME !== 'webgpu')(bad.name, async () => {
      const before = engineStats();
      let error: unknown;
      try {
        const out = bad.call();
        (out as Tensor | undefined)?.dispose?.();
      } catch (e) {
        error = e;
      }
      expect(error, `${bad.name}: no error thrown`).toBeInstanceOf(Error);
      const message = (error as Error).message;
      for (const m of bad.message) expect(message, `${bad.name}: message`).toMatch(m);
      // Thrown before anything ran: no kernel was recorded (uploads of the operands aside).
      expect(engineStats().dispatches).toBe(before.dispatches);
    });
  }

  it('setBackend rejects an unknown backend name and option', async () => {
    await expect(setBackend('tpu' as 'cpu')).rejects.toThrow(
      /setBackend: name must be 'webgpu', 'wasm' or 'cpu', got "tpu"/,
    );
    await expect(setBackend('cpu', { power: 'high' } as unknown as undefined)).rejects.toThrow(
      /setBackend: unknown option 'power'/,
    );
    await setBackend(DUT_NAME);
  });
});
