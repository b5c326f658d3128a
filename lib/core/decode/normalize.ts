/** Interleaved RGB bytes → planar float32 normalized as CLIP expects: (x / 255 − mean) / std. */

export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * `hwc` holds `pixelCount` RGB triples; the result is CHW (all R, then all G, then all B).
 * Hot path (150k values per image at 224²): one fused multiply-add per value, with the
 * per-channel scale and offset precomputed.
 */
export function hwcToNormalizedChw(hwc: Uint8Array, pixelCount: number, norm: Normalization, out?: Float32Array): Float32Array {
  if (hwc.length < pixelCount * 3) throw new RangeError(`expected ${pixelCount * 3} bytes, got ${hwc.length}`);
  const result = out ?? new Float32Array(pixelCount * 3);
  const scaleR = 1 / (255 * norm.std[0]);
  const scaleG = 1 / (255 * norm.std[1]);
  const scaleB = 1 / (255 * norm.std[2]);
  const offsetR = -norm.mean[0] / norm.std[0];
  const offsetG = -norm.mean[1] / norm.std[1];
  const offsetB = -norm.mean[2] / norm.std[2];
  const g0 = pixelCount;
  const b0 = 2 * pixelCount;
  for (let i = 0, j = 0; i < pixelCount; i++, j += 3) {
    result[i] = hwc[j] * scaleR + offsetR;
    result[g0 + i] = hwc[j + 1] * scaleG + offsetG;
    result[b0 + i] = hwc[j + 2] * scaleB + offsetB;
  }
  return result;
}
