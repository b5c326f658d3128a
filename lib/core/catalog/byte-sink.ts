/**
 * A byte buffer that text encoders write into directly (no intermediate JS strings), handed to
 * the output file one chunk at a time: the caller fills it up to `chunkBytes`, then awaits
 * `flush()`, which respects the file stream's back-pressure. Memory is one chunk plus what the
 * stream holds, whatever the export's size.
 */
import type { OutputFile } from '../io/output-file';

export class ByteSink {
  buf: Buffer;
  pos = 0;

  constructor(
    private readonly out: OutputFile,
    /** Flush threshold. @default 1 MiB */
    readonly chunkBytes = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(chunkBytes * 2);
  }

  get full(): boolean {
    return this.pos >= this.chunkBytes;
  }

  /** Room for `n` more bytes (grows the chunk; a single huge value may need it). */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  /** A string known to be ASCII (numbers, ISO dates, pre-encoded names). */
  ascii(text: string): void {
    this.reserve(text.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) buf[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  /** Any string, UTF-8 encoded. */
  utf8(text: string): void {
    this.reserve(text.length * 3);
    this.pos += this.buf.write(text, this.pos, "utf8");
  }

  /** Pre-encoded bytes (separators, keys). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.reserve(n);
    if (n > 64) {
      this.buf.set(bytes, this.pos);
      this.pos += n;
      return;
    }
    // A loop beats TypedArray.set's call overhead for the short separators and keys of every row.
    const buf = this.buf;
    let p = this.pos;
    for (let k = 0; k < n; k++) buf[p++] = bytes[k];
    this.pos = p;
  }

  /** Hands what is buffered to the file; the stream keeps that memory, so a fresh chunk follows. */
  async flush(): Promise<void> {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.chunkBytes * 2);
    this.pos = 0;
    await this.out.write(chunk);
  }
}
