/**
 * Finding a WebGPU device. In a browser, `navigator.gpu`; in Node, Dawn through the `webgpu`
 * package. A core adapter is asked for first, then a compatibility-level one (Dawn's OpenGL ES
 * backend, where Vulkan is missing). No adapter is `null`, and the caller decides what that means.
 */

/**
 * Optional WebGPU features wgru uses where the adapter has them: `subgroups` (reductions combine
 * lanes' partial results with subgroup operations instead of workgroup memory) and `shader-f16`
 * (half-precision arithmetic in WGSL; reported, see `BackendInfo.features`).
 */
export type OptionalFeature = 'subgroups' | 'shader-f16';

export const OPTIONAL_FEATURES: readonly OptionalFeature[] = ['subgroups', 'shader-f16'];

export interface AcquiredDevice {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; description: string };
  featureLevel: 'core' | 'compatibility';
  /** The optional features enabled on `device`. */
  features: OptionalFeature[];
  /** The optional features that were asked for (enabled where the adapter has them). */
  requested: readonly OptionalFeature[];
}

export interface DeviceOptions {
  /** Ask for a low-power or high-performance adapter. */
  powerPreference?: GPUPowerPreference;
  /**
   * The optional features to enable where the adapter has them (default: all of
   * {@link OPTIONAL_FEATURES}; `[]` runs every kernel's portable form). In Node,
   * `WGRU_WEBGPU_FEATURES=none` or a comma-separated list sets the default.
   */
  optionalFeatures?: readonly OptionalFeature[];
}

/** The features asked for: the option, else the environment's list, else all of them. */
export function wantedFeatures(opts: DeviceOptions): readonly OptionalFeature[] {
  if (opts.optionalFeatures) return opts.optionalFeatures;
  const env = typeof process !== 'undefined' ? process.env?.WGRU_WEBGPU_FEATURES : undefined;
  if (env === undefined || env === '') return OPTIONAL_FEATURES;
  if (env === 'none') return [];
  const list = env.split(',').map((f) => f.trim());
  for (const f of list) {
    if (!(OPTIONAL_FEATURES as readonly string[]).includes(f)) {
      throw new Error(
        `WGRU_WEBGPU_FEATURES: unknown feature '${f}' (known: ${OPTIONAL_FEATURES.join(', ')}, or 'none')`,
      );
    }
  }
  return list as OptionalFeature[];
}

const HOW_TO_GET_ONE =
  'On a Debian/Ubuntu machine without a GPU, run `bash scripts/install-software-gpu.sh` (Mesa lavapipe) to get ' +
  'a software WebGPU adapter.';

export const NO_ADAPTER_MESSAGE = `setBackend('webgpu'): no WebGPU adapter could be found. ${HOW_TO_GET_ONE}`;

type GpuLike = Pick<GPU, 'requestAdapter'>;

/** Node: Dawn instances by flag set, created once (each loads the native addon's instance). */
const dawnInstances = new Map<string, GpuLike>();

async function nodeGpu(flags: string[]): Promise<GpuLike | null> {
  const key = flags.join(' ');
  const cached = dawnInstances.get(key);
  if (cached) return cached;
  try {
    // Kept out of bundlers' sight: Dawn is only ever loaded in Node.
    const modName = 'webgpu';
    const mod = (await import(/* @vite-ignore */ modName)) as {
      create: (flags: string[]) => GpuLike;
      globals: Record<string, unknown>;
    };
    for (const [k, v] of Object.entries(mod.globals)) {
      if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    }
    const gpu = mod.create(flags);
    dawnInstances.set(key, gpu);
    return gpu;
  } catch {
    return null;
  }
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

async function requestDevice(
  adapter: GPUAdapter,
  featureLevel: 'core' | 'compatibility',
  opts: DeviceOptions,
): Promise<AcquiredDevice> {
  const lim = adapter.limits;
  const requested = wantedFeatures(opts);
  const features = requested.filter((f) => adapter.features.has(f));
  // Timestamps for the kernel profiler (profileKernels), where the adapter can take them.
  const timestamps: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({
    requiredFeatures: [...features, ...timestamps],
    requiredLimits: {
      maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    },
  });
  const info = adapter.info;
  return {
    device,
    adapterInfo: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      description: info?.description ?? '',
    },
    featureLevel,
    features,
    requested,
  };
}

/** A WebGPU device, or null when this platform has no adapter. */
export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice | null> {
  const base: GPURequestAdapterOptions = opts.powerPreference ? { powerPreference: opts.powerPreference } : {};
  if (!isNode()) {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) return null;
    const core = await gpu.requestAdapter(base);
    if (core) return requestDevice(core, 'core', opts);
    const compat = await gpu.requestAdapter({ ...base, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    return compat ? requestDevice(compat, 'compatibility', opts) : null;
  }
  // Quiet Mesa's EGL noise about a missing runtime directory.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  const vulkan = await nodeGpu([]);
  const core = await vulkan?.requestAdapter(base);
  if (core) return requestDevice(core, 'core', opts);
  // The OpenGL ES path (stock Mesa llvmpipe) exists only at the compatibility feature level.
  if (!process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  const gles = await nodeGpu(['backend=opengles']);
  const compat = await gles?.requestAdapter({ ...base, featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  return compat ? requestDevice(compat, 'compatibility', opts) : null;
}
