import * as F from '@wgru/autograd';
import { type Variable, variable } from '@wgru/autograd';
import { activeBackend, memory, setBackend, type Tensor, tensor } from '@wgru/tensor';
import { it } from 'vitest';
const B = 3;
const I = 4;
const H = 5;
const C = 5;

/** Deterministic small values. */
const vals = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 0.5);


it('scratch', async () => {
  await setBackend('webgpu');
  const pool = (activeBackend() as unknown as { pool: { acquire: (n: number) => GPUBuffer; release: (b: GPUBuffer) => void } }).pool;
  const live = new Map<GPUBuffer, string>();
  const acq = pool.acquire.bind(pool);
  const rel = pool.release.bind(pool);
  pool.acquire = (n: number) => { const b = acq(n); live.set(b, new Error().stack!.split('\n').slice(2, 14).join('\n')); return b; };
  pool.release = (b: GPUBuffer) => { live.delete(b); rel(b); };
    const params = [
      variable(vals(I * 3 * H, 1), { shape: [I, 3 * H], requiresGrad: true }),
      variable(vals(H * 3 * H, 2), { shape: [H, 3 * H], requiresGrad: true }),
      variable(vals(3 * H, 3), { shape: [3 * H], requiresGrad: true }),
      variable(vals(H * C, 4), { shape: [H, C], requiresGrad: true }),
    ];
    const x = variable(vals(B * I, 5), { shape: [B, I] });
    const h = variable(vals(B * H, 6), { shape: [B, H], requiresGrad: true });
    const picks = tensor([1, 4, 0].map((t, i) => i * C + t), [B], 'int32');
    const mask = tensor([[1], [0], [1]]);
  function loss(): Variable {
    const [W, U, b, V] = params as [Variable, Variable, Variable, Variable];
    const gate = (k: number) => [W.slice([0, k * H], [I, H]), U.slice([0, k * H], [H, H]), b.slice([k * H], [H])] as const;
    const [Wz, Uz, bz] = gate(0);
    const [Wr, Ur, br] = gate(1);
    const [Wh, Uh, bh] = gate(2);
    // z = σ(x W_z + h U_z + b_z)
    const z = x.matmul(Wz).add(h.matmul(Uz)).add(bz).sigmoid();
    // r = σ(x W_r + h U_r + b_r)
    const r = x.matmul(Wr).add(h.matmul(Ur)).add(br).sigmoid();
    // h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)
    const hTilde = x.matmul(Wh).add(r.mul(h).matmul(Uh)).add(bh).tanh();
    // h' = (1 − z) ⊙ h + z ⊙ h̃
    const hNext = F.sub(1, z).mul(h).add(z.mul(hTilde));
    const logits = F.where(mask, hNext.matmul(V), hNext.matmul(V).mul(0.5));
    const logp = logits.logSoftmax(1).reshape([B * C]);
    const picked = logp.gather(picks);
    const extra = F.stack([hNext.max(1), hNext.min(1), hNext.abs().mean(1)], 1).sum().mul(1e-3);
    return picked.mean().neg().add(extra).add(F.concat([z, r], 1).pow(2).sqrt().sum().mul(1e-3));
  }


  const step = () => { const l = loss(); l.backward(); for (const p of [...params, h]) p.zeroGrad(); l.dispose(); };
  console.log('start', memory());
  const warm = loss();
  console.log('after fwd', memory());
  warm.backward();
  console.log('after bwd', memory());
  console.log(await warm.item());
  console.log('after item', memory());
  warm.dispose();
  for (const p of [...params, h]) p.zeroGrad();
  console.log('after dispose', memory());
  const before = new Map(live);
  const m0 = memory();
  step();
  const m1 = memory();
  console.log(m0, m1);
  for (const [b, s] of live) if (!before.has(b)) console.log('NEW', b.size, s);
  for (const [b, s] of before) if (!live.has(b)) console.log('GONE', b.size, s);
});
