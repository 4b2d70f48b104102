/**
 * @wgru/autograd: tensors that remember how they were made. A reverse-mode tape over
 * @wgru/tensor: a small table of primitive VJPs (./vjp.ts), everything else composed from them.
 *
 * @example
 * ```ts
 * import { variable } from '@wgru/autograd';
 * const w = variable([[0.5], [-0.25]], { requiresGrad: true });
 * const x = variable([[1, 2]]);
 * const loss = x.matmul(w).tanh().sum();
 * loss.backward();
 * console.log(await w.grad!.data());
 * ```
 * @packageDocumentation
 */
export { checkAnomalies, hasPendingAnomalies, isAnomalyDetectionEnabled, setAnomalyDetection } from './anomaly.js';
export * from './functions.js';
export { argmax, argmin } from './indices.js';
export { unbroadcast } from './accumulate.js';
export { type BackwardOptions, isGradEnabled, noGrad } from './graph.js';
export {
  forwardCall,
  freeAtNextBackward,
  internal,
  keepPastBackward,
  releaseShared,
  sharedConstant,
  transientConstant,
} from './lifetimes.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './gradcheck.js';
export { type Primitive, type PrimitiveAttrs, saves, type Vjp, type VjpContext, vjps } from './vjp.js';
export { type VariableOptions, variable } from './creation.js';
export { traced, type TracedOp, type Tracer, withTracer } from './trace.js';
export { Variable, type VariableLike } from './variable.js';
