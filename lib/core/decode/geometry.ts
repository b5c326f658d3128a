/**
 * Resize and crop geometry of CLIP's image processor (Hugging Face CLIPImageProcessor), kept pure
 * so it can be checked against the reference formulas directly.
 */

export interface Size {
  width: number;
  height: number;
}

/** Shortest edge → `shortest`, the other one scaled and truncated, as `int(short_target * long / short)`. */
export function resizedSize(source: Size, shortest: number): Size {
  const { width, height } = source;
  if (width <= height) return { width: shortest, height: Math.max(1, Math.floor((shortest * height) / width)) };
  return { width: Math.max(1, Math.floor((shortest * width) / height)), height: shortest };
}

/**
 * The centered `crop`×`crop` window over an image of `size`, as the part of the image it covers
 * plus the zero padding around it when the image is smaller than the crop. Output pixel (x, y)
 * is input pixel (x + floor((W − crop) / 2), y + floor((H − crop) / 2)), zero outside.
 */
export interface CropPlan {
  extract: { left: number; top: number; width: number; height: number };
  pad: { left: number; top: number; right: number; bottom: number };
}

export function centerCropPlan(size: Size, crop: number): CropPlan {
  const axis = (length: number): { start: number; length: number; before: number; after: number } => {
    const offset = Math.floor((length - crop) / 2);
    const start = Math.max(0, offset);
    const covered = Math.min(length, offset + crop) - start;
    const before = Math.max(0, -offset);
    return { start, length: covered, before, after: crop - before - covered };
  };
  const x = axis(size.width);
  const y = axis(size.height);
  return {
    extract: { left: x.start, top: y.start, width: x.length, height: y.length },
    pad: { left: x.before, top: y.before, right: x.after, bottom: y.after },
  };
}
