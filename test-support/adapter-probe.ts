/**
 * Prints the WebGPU adapter `acquireDevice()` finds, as one line of JSON on stdout (`null` when
 * there is none). Run by global-setup.ts in a child process, so that Dawn's native warnings on
 * stderr pass through the filter of scripts/quiet-dawn.mjs instead of reaching the terminal.
 */
import { acquireDevice } from '../packages/tensor/src/webgpu/device.js';

const found = await acquireDevice();
const summary = found && {
  adapter: found.adapterInfo,
  featureLevel: found.featureLevel,
  features: found.features,
};
found?.device.destroy();
process.stdout.write(`${JSON.stringify(summary)}\n`);
