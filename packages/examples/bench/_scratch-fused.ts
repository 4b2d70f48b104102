import { noGrad, variable } from '@wgru/autograd';
import { GRU } from '@wgru/nn';
import { engineStats, randn, setBackend } from '@wgru/tensor';
const kind = (process.argv[2] ?? 'webgpu') as 'webgpu' | 'cpu';
await setBackend(kind);
for (const [B, H, I] of (process.argv[3] === "small" ? [[1, 256, 128], [2, 256, 128], [3, 256, 128], [4, 256, 128], [2, 128, 64], [4, 128, 64]] : [[1, 256, 128], [4, 256, 128], [8, 256, 128], [16, 256, 128], [32, 128, 64], [64, 256, 128]]) as [number, number, number][]) {
  const T = 64;
  const gru = new GRU({ inputSize: I, hiddenSize: H, resetAfter: true, seed: 2 });
  const x = variable(randn([T, B, I], { seed: 1 }));
  const fused = async () => { const { output } = noGrad(() => gru.forward(x)); await output.sum().item(); output.dispose(); };
  // composed: gradients on (the tape's ops), forward only
  const composed = async () => { const { output } = gru.forward(x); await output.sum().item(); output.dispose(); };
  const res: Record<string, number[]> = { fused: [], composed: [] };
  for (let r = 0; r < 5; r++) {
    for (const [k, f] of [['fused', fused], ['composed', composed]] as const) {
      const d0 = engineStats().dispatches;
      const t0 = performance.now();
      await f();
      if (r > 0) res[k]!.push(performance.now() - t0);
      if (r === 4) console.log(`  ${k} dispatches ${engineStats().dispatches - d0}`);
    }
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!.toFixed(1);
  console.log(`${kind} B=${B} H=${H} I=${I} T=${T}: fused ${med(res.fused!)} ms, composed ${med(res.composed!)} ms`);
  x.dispose();
}
process.exit(0);
