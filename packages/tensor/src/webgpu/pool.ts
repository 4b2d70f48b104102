/**
 * GPU buffers pooled by size class (powers of two from 256 bytes), so that the buffers of a
 * disposed tensor are reused by the next tensor of a similar size instead of being reallocated.
 * Returning a buffer to the pool while commands that use it are still pending is safe: WebGPU runs
 * a queue's work in order, so a later user of the buffer can only write it after earlier readers.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
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
    return this.device.createBuffer({ size, usage: this.usage });
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
    list.push(buffer);
  }

  /** Destroys every pooled (unused) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.bytesPooled = 0;
  }
}
