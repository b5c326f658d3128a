/**
 * A fixed ring of pixel slots in one SharedArrayBuffer: decode threads write an image's tensor
 * straight into a slot, the model thread reads it from there, and the slot is reused once the
 * model is done with it. No per-image float array is allocated or collected, and the main thread
 * never touches the pixels. `acquire` waits when every slot is taken (backpressure).
 */
export class PixelSlots {
  readonly buffer: SharedArrayBuffer;
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(
    readonly count: number,
    /** Floats per slot (3 × crop²). */
    readonly valuesPerSlot: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`slot count must be a positive integer, got ${count}`);
    this.buffer = new SharedArrayBuffer(count * valuesPerSlot * Float32Array.BYTES_PER_ELEMENT);
    this.free = Array.from({ length: count }, (_, i) => count - 1 - i);
  }

  get available(): number {
    return this.free.length;
  }

  async acquire(): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    return new Promise<number>((resolve) => this.waiting.push(resolve));
  }

  release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }

  view(slot: number): Float32Array {
    return new Float32Array(this.buffer, slot * this.valuesPerSlot * Float32Array.BYTES_PER_ELEMENT, this.valuesPerSlot);
  }
}

/**
 * True when `pixels` lives in shared memory, so another thread can read it without a copy.
 * (By tag, not instanceof: the buffer may come from another realm, e.g. a test sandbox.)
 */
export function isShared(pixels: Float32Array): boolean {
  return Object.prototype.toString.call(pixels.buffer) === '[object SharedArrayBuffer]';
}
