/**
 * A growable byte buffer that text is encoded into as it comes. Lines kept as JS strings until a
 * file is written live long enough to reach V8's old generation, and each flush leaves them there
 * as garbage that is collected late: a planning task that held 250k lines as strings peaked at
 * several times their size. Bytes here are one allocation, reused after `reset()`.
 */
export class ByteBuilder {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  /** Appends `text` as UTF-8; returns the bytes it took. */
  append(text: string): number {
    const most = text.length * 3;
    if (this.pos + most > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + most));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
    const n = this.buf.write(text, this.pos, 'utf8');
    this.pos += n;
    return n;
  }

  /** The bytes so far: a view, valid until the next append or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Empties the builder, keeping its memory (at most `keepBytes` of it). */
  reset(keepBytes = Infinity): void {
    this.pos = 0;
    if (this.buf.length > keepBytes) this.buf = Buffer.allocUnsafe(keepBytes);
  }
}
