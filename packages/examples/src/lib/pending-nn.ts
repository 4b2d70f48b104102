// TEMPORARY: Adam / clipGradNorm / safetensors are not yet exported from '@wgru/nn'. Delete this
// file and import them from '@wgru/nn' once they are.
export { Adam } from '../../../nn/src/optim/adam.js';
export { clipGradNorm } from '../../../nn/src/optim/clip.js';
export { loadSafetensors, saveSafetensorsAsync } from '../../../nn/src/safetensors/index.js';
