import { seededRandom } from '../../random';

/** A tiny RGB raster for drawing the demo's synthetic pictures (no dependency, deterministic). */
export type Rgb = readonly [number, number, number];

export class Canvas {
  readonly data: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = Buffer.alloc(width * height * 3);
  }

  private set(x: number, y: number, c: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (Math.floor(y) * this.width + Math.floor(x)) * 3;
    for (let i = 0; i < 3; i++) this.data[o + i] = Math.round(this.data[o + i] * (1 - alpha) + c[i] * alpha);
  }

  /** Vertical gradient over rows [y0, y1). */
  gradient(y0: number, y1: number, top: Rgb, bottom: Rgb): this {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.height, y1); y++) {
      const t = (y - y0) / Math.max(1, y1 - y0 - 1);
      const c: Rgb = [top[0] + (bottom[0] - top[0]) * t, top[1] + (bottom[1] - top[1]) * t, top[2] + (bottom[2] - top[2]) * t];
      for (let x = 0; x < this.width; x++) this.set(x, y, c);
    }
    return this;
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb, alpha = 1): this {
    for (let j = Math.max(0, Math.floor(y)); j < Math.min(this.height, y + h); j++) {
      for (let i = Math.max(0, Math.floor(x)); i < Math.min(this.width, x + w); i++) this.set(i, j, c, alpha);
    }
    return this;
  }

  circle(cx: number, cy: number, r: number, c: Rgb, alpha = 1): this {
    for (let j = Math.floor(cy - r); j <= cy + r; j++) {
      for (let i = Math.floor(cx - r); i <= cx + r; i++) if ((i - cx) ** 2 + (j - cy) ** 2 <= r * r) this.set(i, j, c, alpha);
    }
    return this;
  }

  /** A triangle with a horizontal base from (x0, base) to (x1, base) and its apex at (ax, ay). */
  triangle(x0: number, x1: number, base: number, ax: number, ay: number, c: Rgb): this {
    for (let y = Math.floor(ay); y < base; y++) {
      const t = (y - ay) / Math.max(1, base - ay);
      const left = ax + (x0 - ax) * t;
      const right = ax + (x1 - ax) * t;
      for (let x = Math.floor(left); x < right; x++) this.set(x, y, c);
    }
    return this;
  }

  /** Horizontal wavy lines, e.g. sea swell or pool caustics. */
  waves(y0: number, y1: number, c: Rgb, random: () => number, alpha = 0.35): this {
    for (let y = Math.floor(y0); y < y1; y += 3 + Math.floor(random() * 4)) {
      const phase = random() * 6.28;
      const amp = 1 + random() * 2;
      for (let x = 0; x < this.width; x++) this.set(x, y + Math.sin(x / 9 + phase) * amp, c, alpha);
    }
    return this;
  }

  /** Fine noise, so encoders see something photo-like rather than flat colour. */
  noise(amount: number, random: () => number): this {
    for (let i = 0; i < this.data.length; i++) {
      const v = this.data[i] + (random() - 0.5) * amount;
      this.data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return this;
  }
}

/** Deterministic PRNG (mulberry32): the same seed always draws the same catalog. */
export const seeded = seededRandom;

/** A colour moved by up to ±spread per channel. */
export function jitter(c: Rgb, random: () => number, spread = 20): Rgb {
  const j = (v: number) => Math.max(0, Math.min(255, v + (random() - 0.5) * 2 * spread));
  return [j(c[0]), j(c[1]), j(c[2])];
}
