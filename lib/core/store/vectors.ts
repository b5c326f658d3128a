/** Pure vector helpers of the search side: decoding stored embeddings, user vectors, grouping. */
import { type Data, DataType, Precision, type Vector, util } from 'apache-arrow';

/**
 * One stored embedding as float32. Arrow JS hands float16 values over as their raw bits in a
 * Uint16Array, so they are decoded explicitly rather than trusted to be numbers.
 */
export function embeddingFromArrow(value: Vector | null | undefined): Float32Array {
  if (!value) throw new Error('missing embedding');
  const child = value.data[0] as Data<DataType>;
  const raw = value.toArray() as ArrayLike<number>;
  // Checked by value, not instanceof: LanceDB may hand back types of its own apache-arrow copy.
  if (DataType.isFloat(child.type) && child.type.precision === Precision.HALF) {
    const out = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = util.uint16ToFloat64(raw[i]);
    return out;
  }
  return Float32Array.from(raw);
}

export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const out = new Float32Array(v.length);
  if (sum === 0) return out;
  const inv = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

/**
 * What a user likes, as one vector: the normalized mean of the liked images' embeddings. Each
 * embedding is normalized first so that no image weighs more than another.
 */
export function userVector(embeddings: Float32Array[]): Float32Array {
  if (embeddings.length === 0) throw new Error('userVector needs at least one embedding');
  const dim = embeddings[0].length;
  const sum = new Float32Array(dim);
  for (const e of embeddings) {
    if (e.length !== dim) throw new Error(`embeddings of different widths: ${e.length} vs ${dim}`);
    const unit = normalize(e);
    for (let i = 0; i < dim; i++) sum[i] += unit[i];
  }
  return normalize(sum);
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export interface SearchResult {
  imageId: string;
  hotelId: string | null;
  /** Null in stores written before the column existed. */
  hotelName: string | null;
  city: string | null;
  seoFilename: string;
  tags: string[];
  /** tags[i]'s score. */
  tagScores: number[];
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
  sourceUri: string;
}

export interface HotelGroup {
  hotelId: string;
  hotelName: string | null;
  city: string | null;
  /** The best image's score: hotels rank by their best match. */
  score: number;
  images: SearchResult[];
}

/**
 * Results (best first) → hotels ranked by their best image, each with its best `perHotel` images.
 * Images without a hotel are left out.
 */
export function groupByHotel(results: SearchResult[], perHotel = 3): HotelGroup[] {
  const groups = new Map<string, HotelGroup>();
  for (const r of [...results].sort((a, b) => b.score - a.score)) {
    if (r.hotelId === null) continue;
    let group = groups.get(r.hotelId);
    if (!group) {
      group = { hotelId: r.hotelId, hotelName: r.hotelName, city: r.city, score: r.score, images: [] };
      groups.set(r.hotelId, group);
    }
    if (group.images.length < perHotel) group.images.push(r);
  }
  return [...groups.values()];
}

/** A result's tags with the ones a filter asked for first, so that a display shows why it matched. */
export function tagsFilterFirst(tags: string[], filterTags: readonly string[] = []): string[] {
  return [...tags.filter((t) => filterTags.includes(t)), ...tags.filter((t) => !filterTags.includes(t))];
}
