/**
 * Synthetic hotel pictures: rough compositions of the scenes a hotel catalog holds (beach, pool,
 * room, night skyline, mountains, restaurant). A real CLIP model would tag some of them sensibly;
 * their point is to give the pipeline varied, valid images of several formats and sizes.
 */
import { Canvas, jitter, type Rgb } from './canvas';

export const SCENES = ['beach', 'pool', 'room', 'night', 'mountain', 'restaurant'] as const;
export type Scene = (typeof SCENES)[number];

const SKY: Rgb = [110, 170, 235];
const HAZE: Rgb = [225, 235, 245];
const SEA: Rgb = [20, 90, 160];
const SAND: Rgb = [225, 200, 150];
const WHITE: Rgb = [245, 245, 240];

export function drawScene(scene: Scene, width: number, height: number, random: () => number): Canvas {
  const c = new Canvas(width, height);
  const r = random;
  const W = width;
  const H = height;
  switch (scene) {
    case 'beach': {
      const horizon = H * (0.35 + r() * 0.15);
      const shore = horizon + H * (0.15 + r() * 0.15);
      c.gradient(0, horizon, jitter(SKY, r), HAZE).gradient(horizon, shore, jitter(SEA, r), jitter([60, 150, 190], r)).waves(horizon + 2, shore, WHITE, r);
      c.gradient(shore, H, jitter(SAND, r), jitter([200, 175, 120], r));
      if (r() < 0.6) c.circle(W * (0.2 + r() * 0.6), horizon * 0.35, 6 + r() * 10, [255, 240, 180]);
      if (r() < 0.5) {
        const x = W * (0.7 + r() * 0.2);
        c.rect(x, shore - H * 0.45, 5, H * 0.5, [110, 80, 50]).circle(x + 2, shore - H * 0.45, 18, jitter([40, 130, 60], r));
      }
      break;
    }
    case 'pool': {
      const deckTop = H * (0.25 + r() * 0.1);
      c.gradient(0, deckTop, jitter(SKY, r), HAZE).rect(0, deckTop, W, H - deckTop, jitter([215, 210, 200], r));
      const px = W * 0.1;
      const py = deckTop + H * 0.12;
      c.rect(px, py, W * 0.8, H * 0.45, jitter([60, 190, 210], r)).waves(py, py + H * 0.45, [200, 245, 250], r, 0.3);
      for (let i = 0; i < 3 + r() * 3; i++) c.rect(px + i * W * 0.14, H * 0.85, W * 0.1, H * 0.05, WHITE);
      break;
    }
    case 'room': {
      const floor = H * (0.65 + r() * 0.1);
      c.rect(0, 0, W, floor, jitter([235, 225, 205], r, 25)).rect(0, floor, W, H - floor, jitter([140, 95, 60], r));
      c.rect(W * 0.6, H * 0.12, W * 0.3, H * 0.3, jitter([150, 200, 240], r)).rect(W * 0.74, H * 0.12, 3, H * 0.3, WHITE);
      const bx = W * (0.08 + r() * 0.1);
      c.rect(bx, floor - H * 0.35, W * 0.45, H * 0.12, jitter([120, 80, 60], r));
      c.rect(bx, floor - H * 0.23, W * 0.45, H * 0.2, WHITE).rect(bx + 6, floor - H * 0.22, W * 0.12, H * 0.06, [230, 230, 235]);
      if (r() < 0.5) c.rect(bx + W * 0.2, floor - H * 0.22, W * 0.12, H * 0.06, [230, 230, 235]);
      c.rect(bx, floor - H * 0.13, W * 0.45, H * 0.06, jitter([160, 40, 50], r, 60));
      break;
    }
    case 'night': {
      c.gradient(0, H, [8, 12, 35], [30, 30, 70]);
      for (let i = 0; i < 60; i++) c.rect(r() * W, r() * H * 0.5, 1, 1, WHITE);
      if (r() < 0.7) c.circle(W * (0.1 + r() * 0.3), H * 0.15, 10, [240, 240, 210]);
      for (let x = 0; x < W; x += W * (0.08 + r() * 0.1)) {
        const top = H * (0.3 + r() * 0.4);
        const bw = W * (0.07 + r() * 0.08);
        c.rect(x, top, bw, H - top, jitter([25, 25, 40], r, 10));
        for (let wy = top + 4; wy < H - 4; wy += 8) for (let wx = x + 3; wx < x + bw - 3; wx += 6) if (r() < 0.45) c.rect(wx, wy, 3, 4, [255, 210, 120]);
      }
      break;
    }
    case 'mountain': {
      const base = H * (0.6 + r() * 0.1);
      c.gradient(0, base, jitter(SKY, r), HAZE);
      for (let i = 0; i < 3; i++) {
        const ax = W * (0.15 + r() * 0.7);
        const ay = H * (0.1 + r() * 0.25);
        c.triangle(ax - W * 0.35, ax + W * 0.35, base, ax, ay, jitter([110, 110, 125], r));
        c.triangle(ax - W * 0.07, ax + W * 0.07, ay + H * 0.08, ax, ay, WHITE);
      }
      c.gradient(base, H, jitter([70, 130, 60], r), jitter([40, 90, 40], r));
      break;
    }
    case 'restaurant': {
      c.gradient(0, H, jitter([120, 70, 40], r), jitter([60, 35, 25], r));
      for (let i = 0; i < 4 + r() * 4; i++) c.circle(W * r(), H * (0.55 + r() * 0.35), 14 + r() * 12, WHITE);
      for (let i = 0; i < 3; i++) c.circle(W * (0.2 + i * 0.3), H * 0.12, 6, [255, 220, 140]).circle(W * (0.2 + i * 0.3), H * 0.12, 16, [255, 220, 140], 0.25);
      break;
    }
  }
  return c.noise(10, r);
}
