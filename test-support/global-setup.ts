/**
 * Runs once before the suite. Under WGRU_REQUIRE_WEBGPU=1 (CI), a missing WebGPU adapter fails
 * the run instead of letting the WebGPU tests skip, and the adapter used is printed.
 */
export default async function setup(): Promise<void> {
  const { acquireDevice } = await import('../packages/tensor/src/webgpu/device.js');
  const found = await acquireDevice();
  if (found) {
    const a = found.adapterInfo;
    process.stdout.write(
      `wgru tests: WebGPU adapter: ${a.vendor} / ${a.architecture} / ${a.description} (${found.featureLevel}; optional features: ${found.features.join(', ') || 'none'})\n`,
    );
    found.device.destroy();
  } else if (process.env.WGRU_REQUIRE_WEBGPU === '1') {
    throw new Error(
      'WGRU_REQUIRE_WEBGPU=1 but no WebGPU adapter was found: run `bash scripts/install-software-gpu.sh` (Mesa lavapipe) first.',
    );
  } else {
    process.stdout.write('wgru tests: no WebGPU adapter; WebGPU tests will be skipped\n');
  }
}
