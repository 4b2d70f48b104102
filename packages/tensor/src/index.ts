/**
 * @wgru/tensor: numbers on a device. Tensors live on a WebGPU device (every op a WGSL compute
 * kernel, batched into one submit per sync point) or on the CPU reference backend.
 *
 * @example
 * ```ts
 * import { tensor, matmul, setBackend } from '@wgru/tensor';
 * await setBackend('webgpu').catch(() => setBackend('cpu')); // the CPU backend where no GPU exists
 * const y = matmul(tensor([[1, 2]]), tensor([[3], [4]]));
 * console.log(await y.data()); // Float32Array [11]
 * ```
 * @packageDocumentation
 */
import { probe } from './registry.js';

export { CpuStorage } from './cpu/backend.js';
export type { Backend, BackendInfo, EngineStats, ReduceOp, Storage, View } from './backend.js';
export type { DType, NestedArray, Shape, TypedArray } from './dtype.js';
export { bytesPerElement, promote } from './dtype.js';
export type { Expr } from './expr.js';
export {
  arange,
  full,
  manualSeed,
  ones,
  randn,
  rngState,
  tensor,
  tensorOn,
  uniform,
  zeros,
} from './ops/creation.js';
export { backendOf, empty } from './ops/core.js';
export * from './ops/elementwise.js';
export { gather, oneHot, scatterAdd } from './ops/indexing.js';
export { matmul } from './ops/matmul.js';
export { gruCell, type GruCellInputs } from './ops/recurrent.js';
export { broadcastTo, concat, permute, reshape, slice, squeeze, stack, transpose, unsqueeze } from './ops/movement.js';
export { type Axes, argmax, argmin, logSoftmax, logSumExp, max, mean, min, prod, softmax, sum } from './ops/reduce.js';
export { type BinaryOp, binaryOps, type UnaryOp, unaryOps } from './ops/table.js';
export {
  activeBackend,
  type BackendName,
  backend,
  cpuBackend,
  engineStats,
  isSoftwareAdapter,
  flush,
  memory,
  profileKernels,
  setBackend,
  shutdown,
  type SetBackendOptions,
  tunedChoice,
  tuning,
  withBackend,
} from './registry.js';
export type {
  MatmulChoice,
  TimedCandidates,
  TunedChoice,
  TuningLogEntry,
  TuningMode,
  TuningTable,
  VariantChoice,
} from './webgpu/kernels/tuner.js';
export type { TuningState } from './webgpu/tuning.js';
export type { KernelTime } from './webgpu/profiler.js';
export { broadcastShapes, contiguousStrides, normalizeAxes, normalizeAxis, shapeString, sizeOf } from './shape.js';
export { formatTensor, formatValues, inspectCustom } from './format.js';
export { keep, Tensor, tidy } from './tensor.js';
export { NO_ADAPTER_MESSAGE, OPTIONAL_FEATURES, type OptionalFeature } from './webgpu/device.js';

// Look for a WebGPU adapter now, so that the first use (which is synchronous) can pick it.
await probe();
