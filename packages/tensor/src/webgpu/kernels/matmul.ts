/**
 * Batched matmul, out[z] = a[z] @ b[z] over the last two axes, in two families of kernels.
 *
 * Both are register-blocked: each invocation accumulates a TM x (4*TN) block of outputs in
 * registers (TM rows, TN groups of four adjacent columns held as vec4 accumulators), with no
 * workgroup memory and no barriers. On software adapters (Mesa's llvmpipe/lavapipe, which runs one
 * SIMD lane per invocation), what costs is not arithmetic but loads: every storage-buffer load is
 * done lane by lane with a bounds check, so the kernels are shaped to load as few values per
 * multiply-add as the registers allow.
 *
 * - The texture path (float32, large problems): two small "pack" dispatches copy each operand,
 *   through its strides, into an rgba32float storage texture (A as [M rows][K/4 texels], texels
 *   along k; B as [K rows][N/4 texels], texels along n; zero padded to whole texels and to a
 *   multiple of 4 rows of B, one array layer per distinct batch matrix). The matmul kernel then
 *   reads texels, which llvmpipe fetches for all lanes at once, several times cheaper than buffer
 *   loads: per k-step of 4, an invocation reads TM texels of A and 4*TN of B for 16*TM*TN
 *   multiply-adds. Any layout (transposed, sliced, broadcast batch) costs only the pack.
 * - The buffer path (small problems, skinny M such as batch-1 generation, int32, or where textures
 *   do not fit the limits): reads the operands' storage buffers in place. Each operand is bound as
 *   array<vec4> where its layout allows: A with k contiguous ('k4', the plain row-major case) or m
 *   contiguous ('m4', A^T, as autograd's dB = A^T @ dC uses), B with n contiguous ('n4') or k
 *   contiguous ('k4', B^T, as in dA = dC @ B^T); otherwise scalar loads through arbitrary strides
 *   ('s'). The k loop is unrolled by 4 (one vec4 of a 'k4' operand per step). Skinny problems
 *   use a short TM (as many rows as there are, up to 4) and workgroups of 16 along N, so that a
 *   [1, K] @ [K, N] product is spread over N/4 invocations in several workgroups.
 *
 * Batch axes are the grid's z (split into several dispatches past 65,535 matrices); broadcast
 * batch axes have stride 0 and cost no copies.
 *
 * The family in files: matmul-plan.ts (geometry and the choice of kernel), matmul-buffer.ts,
 * matmul-texture.ts, and packed-operands.ts (packing into textures, and the cache of packed
 * operands that the fused GRU cell's weights share).
 */
import type { View } from '../../backend.js';
import { recordBuffer } from './matmul-buffer.js';
import { forcedCandidate } from './matmul-candidates.js';
import { choose, geometry, type MatmulTarget, matmulTuning } from './matmul-plan.js';
import { recordTexture } from './matmul-texture.js';
import { packedOf, packKey } from './packed-operands.js';

/** Records the dispatches of out = a @ b (out contiguous and non-empty). */
export function recordMatmul(target: MatmulTarget, a: View, b: View, out: View, bias: View | null = null): void {
  const g = geometry(a, b, out);
  // out = a @ b + bias, the bias [N] added to every row as the results are stored
  if (bias) g.bias = { off: bias.offset, s: bias.strides[0] };
  const cache = packedOf(target);
  const bContents = target.contents(b);
  const bKey = packKey(g.b, g.batchShape, g.K, g.N);
  const bPacked = cache.reused(bContents, bKey);
  const device = { limits: target.device.limits, featureLevel: target.featureLevel, software: target.software };
  const heuristic = choose(g, device, bPacked);
  // A test's forced candidate, else the autotuner's plan for the shape class (tuner.ts).
  const plan =
    forcedCandidate(g, device, bPacked) ?? target.tuner?.pickMatmul(target, g, heuristic, bPacked, device) ?? heuristic;
  matmulTuning.onPlan?.(plan);
  if (plan.path === 'texture')
    recordTexture(target, g, plan, a, b, out, bPacked ? { contents: bContents, key: bKey } : null, bias);
  else recordBuffer(target, g, plan, a, b, out, bias);
}
