import { hwcToNormalizedChw } from '../../lib/core/decode/normalize';
import { seededRandom } from '../support/fixtures';

const norm = { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] } as const;

describe('hwcToNormalizedChw', () => {
  it('matches (x/255 − mean)/std, planar, for every value', () => {
    const random = seededRandom(3);
    const pixelCount = 37;
    const hwc = Uint8Array.from({ length: pixelCount * 3 }, () => Math.floor(random() * 256));
    const chw = hwcToNormalizedChw(hwc, pixelCount, norm);
    expect(chw).toHaveLength(pixelCount * 3);
    for (let i = 0; i < pixelCount; i++) {
      for (let c = 0; c < 3; c++) {
        const reference = (hwc[i * 3 + c] / 255 - norm.mean[c]) / norm.std[c];
        expect(chw[c * pixelCount + i]).toBeCloseTo(reference, 5);
      }
    }
  });

  it('writes into a caller-provided buffer and rejects short input', () => {
    const out = new Float32Array(6);
    expect(hwcToNormalizedChw(Uint8Array.of(255, 255, 255, 0, 0, 0), 2, norm, out)).toBe(out);
    expect(out[0]).toBeCloseTo((1 - norm.mean[0]) / norm.std[0], 5);
    expect(out[1]).toBeCloseTo(-norm.mean[0] / norm.std[0], 5);
    expect(() => hwcToNormalizedChw(new Uint8Array(5), 2, norm)).toThrow(RangeError);
  });
});
