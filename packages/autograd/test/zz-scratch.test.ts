import * as F from '@wgru/autograd';
import { cpuBackend, tensor, setBackend } from '@wgru/tensor';
import { it } from 'vitest';
it('scratch', async () => {
  await setBackend('cpu');
  const x = F.variable(1.5, { requiresGrad: true });
  for (const f of [(v: F.Variable) => F.softmax(v, 0), (v: F.Variable) => F.logSoftmax(v, -1), (v: F.Variable) => F.logSumExp(v, 0), (v: F.Variable) => F.logSumExp(v, 0, true), (v: F.Variable) => F.sum(v, 0), (v: F.Variable) => F.max(v, -1), (v: F.Variable) => F.mean(v, [0])]) {
    try { const y = f(x); console.log('ok', y.shape, await y.data()); } catch (e) { console.log('ERR', (e as Error).message); }
  }
  // where with both numbers
  try { const c = F.variable([1, 0]); console.log(await F.where(c, 1, 0).data()); } catch (e) { console.log('ERR', (e as Error).message); }
  // int32 variable ops
  const i = F.variable([1, 2], { dtype: 'int32' });
  console.log(i.add(1).dtype, i.mul(i).dtype);
  // squeeze of nothing
  const z = F.variable([[1, 2]], { requiresGrad: true });
  console.log(F.squeeze(z).shape, z.transpose().shape);
  // matmul with int
});
