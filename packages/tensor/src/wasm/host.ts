/**
 * The wasm backend's views as host typed arrays over its memory: for the ops still written in
 * JavaScript over that memory (reductions, gather, scatterAdd, int32 matmul), which run the CPU
 * backend's loops in place on these views (in float64 arithmetic, rounded as they are stored).
 * @module
 */
import type { View } from '../backend.js';
import { CpuStorage } from '../cpu/backend.js';
import type { WasmHeap, WasmStorage } from './heap.js';

/** `v` as a view of a CPU storage whose array is the whole memory (element offsets rebased). */
export function hostView(heap: WasmHeap, v: View): View {
  const s = v.storage as WasmStorage;
  const array = heap.view(v.dtype);
  return { ...v, storage: new CpuStorage(array, v.dtype), offset: s.ptr / 4 + v.offset };
}
