/**
 * GPU buffers pooled by size class (powers of two from 256 bytes), so that the buffers of a
 * disposed tensor are reused by the next tensor of a similar size instead of being reallocated.
 * Returning a buffer to the pool while commands that use it are still pending is safe: WebGPU runs
 * a queue's work in order, so a later user of the buffer can only write it after earlier readers.
 *
 * The free buffer handed out is always the oldest of its class (the first made), not the last
 * returned. Then which buffer a tensor gets depends only on which buffers are free, not on the
 * order they were returned in, so a loop that repeats the same ops step after step gets the same
 * buffers step after step, and the engine's bind groups (which name buffers) are found in its
 * cache instead of being made again. Handing out the last returned one, a small GRU's training
 * step made 37 bind groups a step, 24,000 different ones in 2,000 steps: Dawn frees a bind group
 * only when the garbage collector finalizes it, and on Mesa's lavapipe each live one holds a
 * memory mapping; past 65,530 mappings (vm.max_map_count) the process dies of a segmentation
 * fault, which a test's process did. Now that loop makes none after its first 100 steps.
 */
export class BufferPool {
  /** Free buffers by size class, each list newest first, so that pop() gives the oldest. */
  private readonly free = new Map<number, GPUBuffer[]>();
  /** The order buffers were made in. */
  private readonly serial = new WeakMap<GPUBuffer, number>();
  private made = 0;
  bytesInUse = 0;
  bytesPooled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
  ) {}

  static sizeClass(bytes: number): number {
    let c = 256;
    while (c < bytes) c *= 2;
    return c;
  }

  acquire(bytes: number): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    this.bytesInUse += size;
    if (reused) {
      this.bytesPooled -= size;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage: this.usage });
    this.serial.set(buffer, this.made++);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.bytesInUse -= size;
    this.bytesPooled += size;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    // Insert keeping newest first (binary search for the first older one).
    const n = this.serial.get(buffer) as number;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.serial.get(list[mid]) as number) > n) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, buffer);
  }

  /** Destroys every pooled (unused) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.bytesPooled = 0;
  }
}
