/**
 * Bad calls throw an Error that names the op and the shapes involved, before anything is
 * recorded, on every backend.
 */
import * as F from '@wgru/autograd';
import { gradcheck, type Variable, variable } from '@wgru/autograd';
import { cpuBackend, setBackend, tensor, tensorOn } from '@wgru/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { forEachBackend, webgpuAvailable } from '../../../test-support/backends.js';

const hasGpu = await webgpuAvailable();

forEachBackend('autograd errors', (name) => {
  let a: Variable; // [2, 3]
  let b: Variable; // [4]
  beforeAll(async () => {
    await setBackend(name);
    a = variable(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { requiresGrad: true },
    );
    b = variable([1, 2, 3, 4], { requiresGrad: true });
  });

  describe('shapes that do not fit', () => {
    it('elementwise ops that cannot broadcast', () => {
      expect(() => a.add(b)).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
      expect(() => F.mul(b, a)).toThrow(/mul: shapes \[4\] and \[2, 3\] cannot be broadcast/);
      expect(() => F.maximum(a, b)).toThrow(/maximum: shapes \[2, 3\] and \[4\]/);
      expect(() => F.where(tensor([1, 0]), a, a)).toThrow(/where: shapes .*\[2\].*\[2, 3\]/);
    });

    it('matmul with inner dimensions that differ, or a 0-d operand', () => {
      expect(() => a.matmul(a)).toThrow(/matmul: inner dimensions differ: \[2, 3\] @ \[2, 3\]/);
      expect(() => b.matmul(a)).toThrow(/matmul: inner dimensions differ: \[4\] @ \[2, 3\]/);
      expect(() => a.matmul(variable(2))).toThrow(
        /matmul: operands must have at least one axis, got \[2, 3\] and \[\]/,
      );
      const batchA = variable(new Float32Array(2 * 2 * 3), { shape: [2, 2, 3] });
      const batchB = variable(new Float32Array(3 * 3 * 1), { shape: [3, 3, 1] });
      expect(() => batchA.matmul(batchB)).toThrow(/matmul: .*\[2, 2, 3\] @ \[3, 3, 1\] cannot be broadcast/);
    });

    it('movement ops', () => {
      expect(() => a.reshape([4, 2])).toThrow(/reshape: cannot reshape \[2, 3\] \(6 elements\) into \[4, 2\]/);
      expect(() => a.slice([1, 1], [2, 1])).toThrow(/slice: .*out of bounds for \[2, 3\]/);
      expect(() => a.permute([0, 0])).toThrow(/permute: .*not a permutation of the 2 axes of \[2, 3\]/);
      expect(() => a.squeeze(0)).toThrow(/squeeze: axis 0 of \[2, 3\] has size 2, not 1/);
      expect(() => F.concat([a, b], 0)).toThrow(/concat: .*\[4\].*\[2, 3\]/);
      expect(() => F.stack([a, a.transpose()])).toThrow(/stack: vars\[1\] has shape \[3, 2\], vars\[0\] has \[2, 3\]/);
    });

    it('axes out of range name the op and the rank', () => {
      expect(() => a.sum(2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
      expect(() => a.max([0, -3])).toThrow(/max: axis -3 is out of range for a tensor of rank 2/);
      expect(() => a.mean([1, -1])).toThrow(/mean: repeated axis/);
      expect(() => a.softmax(5)).toThrow(/softmax: axis 5 is out of range for a tensor of rank 2/);
      expect(() => a.logSumExp(-3)).toThrow(/logSumExp: axis -3 is out of range/);
    });
  });

  describe('backward', () => {
    it('of a non-scalar without a gradient names the shape', () => {
      expect(() => a.mul(2).backward()).toThrow(
        /backward: gradient must be given for a non-scalar output of shape \[2, 3\]/,
      );
    });

    it('with a gradient of the wrong shape names both shapes', () => {
      expect(() => a.mul(2).backward(tensor([1, 2, 3]))).toThrow(
        /backward: gradient must be a Tensor of shape \[2, 3\], got \[3\]/,
      );
    });

    it('of a Variable that does not require grad', () => {
      expect(() => variable([1]).mul(2).backward()).toThrow(/backward: this Variable does not require grad/);
      expect(() => F.noGrad(() => a.sum()).backward()).toThrow(/does not require grad/);
    });
  });

  describe('dtypes and arguments', () => {
    it('an int32 Variable cannot require grad, by option or later', () => {
      expect(() => variable([1, 2], { dtype: 'int32', requiresGrad: true })).toThrow(
        /variable: an int32 Variable \[2\] cannot require grad/,
      );
      const i = variable([[1, 2]], { dtype: 'int32' });
      expect(() => {
        i.requiresGrad = true;
      }).toThrow(/requiresGrad: an int32 Variable \[1, 2\] cannot require grad/);
      expect(i.requiresGrad).toBe(false);
    });

    it('gather needs int32 indices in range', () => {
      expect(() => a.gather(tensor([0, 1]), 1)).toThrow(/gather: indices must be int32, got float32 \[2\]/);
      expect(() => a.gather([0, 1] as never, 1)).toThrow(/gather: indices must be an int32 Tensor/);
      expect(() => a.gather(tensor([0, 3], [2], 'int32'), 1)).toThrow(
        /gather: index 3 at position 1 is out of range for axis 1 of x \[2, 3\]/,
      );
      expect(() => a.gather(tensor([0], [1], 'int32'), 2)).toThrow(
        /gather: axis 2 is out of range for a tensor of rank 2/,
      );
    });

    it('variable() rejects unknown options and options that cannot apply; a Tensor takes shape and dtype as torch does', async () => {
      expect(() => variable([1], { requiresgrad: true } as never)).toThrow(/variable: unknown option 'requiresgrad'/);
      expect(() => variable([1, 2, 3], { shape: [2, 2] })).toThrow(/tensor: 3 values do not fill shape \[2, 2\]/);
      expect(() => variable(tensor([1, 2, 3]), { shape: [2, 2] })).toThrow(/reshape/);
      const t = tensor([1, 2, 3, 4]);
      const v = variable(t, { shape: [2, 2], dtype: 'int32' });
      expect(v.shape).toEqual([2, 2]);
      expect(v.dtype).toBe('int32');
      expect(Array.from(await v.data())).toEqual([1, 2, 3, 4]);
      expect(variable(t, { dtype: 'float32' }).value).toBe(t); // the same dtype: the Tensor itself
    });

    it('operands that are not Variables or numbers name the op and argument', () => {
      expect(() => a.add('1' as never)).toThrow(/add: b must be a Variable, got string/);
      expect(() => F.matmul(a, tensor([1, 2, 3]) as never)).toThrow(/matmul: b must be a Variable, got Tensor/);
      expect(() => F.exp(null as never)).toThrow(/exp: x must be a Variable, got null/);
      expect(() => F.exp(2 as never)).toThrow(/^exp: x must be a Variable, got number 2$/);
      expect(() => F.concat([], 0)).toThrow(/concat: needs a non-empty list/);
    });

    it('gradcheck rejects unknown options', async () => {
      const x = variable([1], { requiresGrad: true });
      await expect(gradcheck((v) => v.sum(), [x], { tol: 1 } as never)).rejects.toThrow(
        /gradcheck: unknown option 'tol'/,
      );
    });
  });
});

describe.skipIf(!hasGpu)('autograd errors across backends', () => {
  it('operands on different backends say so', async () => {
    await setBackend('webgpu');
    const g = variable([1, 2], { requiresGrad: true });
    const c = variable(tensorOn(cpuBackend(), [1, 2]));
    expect(() => variable(tensorOn(cpuBackend(), [1]), { backend: g.value.backend })).toThrow(
      /^variable: the Tensor lives on the cpu backend, the backend option names webgpu/,
    );
    expect(() => g.add(c)).toThrow(/add: operands live on different backends \(webgpu and cpu\)/);
    expect(() => g.mul(2).sum().backward(tensorOn(cpuBackend(), 1))).toThrow(
      /backward: gradient is on the cpu backend, this Variable on webgpu/,
    );
  });
});
