import { centerCropPlan, resizedSize } from '../../lib/core/decode/geometry';

describe('resizedSize (CLIP: shortest edge to S, long edge int(S·long/short))', () => {
  it.each([
    [{ width: 640, height: 480 }, 224, { width: 298, height: 224 }], // 224·640/480 = 298.67
    [{ width: 480, height: 640 }, 224, { width: 224, height: 298 }],
    [{ width: 500, height: 500 }, 224, { width: 224, height: 224 }],
    [{ width: 100, height: 3 }, 224, { width: 7466, height: 224 }], // 7466.67
    [{ width: 10, height: 10_000 }, 1, { width: 1, height: 1000 }],
  ])('%j → shortest %d → %j', (source, shortest, expected) => {
    expect(resizedSize(source, shortest)).toEqual(expected);
  });
});

describe('centerCropPlan (top = (H − crop) // 2, zero padding when smaller)', () => {
  it('takes a centered window when the image is large enough', () => {
    expect(centerCropPlan({ width: 298, height: 224 }, 224)).toEqual({
      extract: { left: 37, top: 0, width: 224, height: 224 },
      pad: { left: 0, top: 0, right: 0, bottom: 0 },
    });
    // Odd margins round down on the left/top, as Python's floor division does.
    expect(centerCropPlan({ width: 7, height: 6 }, 4).extract).toEqual({ left: 1, top: 1, width: 4, height: 4 });
  });

  it('pads with the larger half first when the image is smaller than the crop', () => {
    // Python: top = (5 − 8) // 2 = −2, so input row r lands on output row r + 2.
    expect(centerCropPlan({ width: 5, height: 8 }, 8)).toEqual({
      extract: { left: 0, top: 0, width: 5, height: 8 },
      pad: { left: 2, top: 0, right: 1, bottom: 0 },
    });
  });

  it('always yields exactly crop × crop', () => {
    for (const [w, h, c] of [[1, 1, 3], [9, 2, 4], [300, 17, 16], [16, 16, 16]]) {
      const { extract, pad } = centerCropPlan({ width: w, height: h }, c);
      expect(pad.left + extract.width + pad.right).toBe(c);
      expect(pad.top + extract.height + pad.bottom).toBe(c);
      expect(extract.left + extract.width).toBeLessThanOrEqual(w);
      expect(extract.top + extract.height).toBeLessThanOrEqual(h);
    }
  });
});
