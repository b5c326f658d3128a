/**
 * Synthetic worker output for the store: clustered embeddings and whole shard folders in the
 * worker's layout (part-NNNNN.arrow + part-NNNNN.json, errors.jsonl, summary.json last).
 *
 * Embeddings are a mixture of Gaussians on the unit sphere with a low-rank spread per cluster,
 * because real CLIP embeddings are clustered with a low intrinsic dimension. Uniform random
 * vectors are the known worst case for IVF/PQ (every neighbour is almost equally far) and would
 * make recall figures meaningless.
 */
import { createHash } from 'node:crypto';
import { FixedSizeList, Float32, RecordBatch, Schema, Struct, Table, makeData, tableToIPC, vectorFromArray } from 'apache-arrow';
import { ImageErrorCode } from '../lib/core/errors';
import { joinUri, writeAtomic, writeJsonAtomic } from '../lib/core/io/location';
import { ResultColumn as C, resultSchema } from '../lib/core/pipeline/schema';
import { seededRandom } from '../lib/core/random';

/** mulberry32: tiny, fast, deterministic. */
export const makeRandom = seededRandom;

export function makeGaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = random() || 1e-12;
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface EmbeddingSpace {
  dim: number;
  clusters: number;
  rank: number;
  /** clusters × dim unit vectors. */
  centers: Float32Array;
  /** clusters × rank × dim directions of each cluster's spread. */
  bases: Float32Array;
}

export interface EmbeddingSpaceOptions {
  dim: number;
  clusters?: number;
  rank?: number;
  seed?: number;
}

export function makeEmbeddingSpace({ dim, clusters = 256, rank = 16, seed = 42 }: EmbeddingSpaceOptions): EmbeddingSpace {
  const gauss = makeGaussian(makeRandom(seed));
  // CLIP embeddings live in a narrow cone (unrelated images still have cosine ≈ 0.3–0.5): every
  // center shares one mean direction.
  const mean = normalizeInPlace(Float32Array.from({ length: dim }, () => gauss()));
  const centers = new Float32Array(clusters * dim);
  const bases = new Float32Array(clusters * rank * dim);
  for (let c = 0; c < clusters; c++) {
    const center = centers.subarray(c * dim, (c + 1) * dim);
    for (let j = 0; j < dim; j++) center[j] = CONE * mean[j] + gauss() / Math.sqrt(dim);
    normalizeInPlace(center);
  }
  // Basis vectors of norm 1/√rank so that the spread has norm ≈ SPREAD whatever the rank.
  const scale = 1 / Math.sqrt(dim * rank);
  for (let i = 0; i < bases.length; i++) bases[i] = gauss() * scale;
  return { dim, clusters, rank, centers, bases };
}

/** Weight of the shared mean direction, and norms (before normalization) of the within-cluster
 * low-rank spread and of the isotropic noise. */
const CONE = 0.8;
const SPREAD = 0.8;
const NOISE = 0.35;

/** Writes one unit vector into out[offset…offset+dim) and returns its cluster. */
export function sampleEmbedding(space: EmbeddingSpace, random: () => number, gauss: () => number, out: Float32Array, offset: number): number {
  const { dim, rank, centers, bases } = space;
  const cluster = Math.floor(random() * space.clusters);
  const v = out.subarray(offset, offset + dim);
  v.set(centers.subarray(cluster * dim, (cluster + 1) * dim));
  const noise = NOISE / Math.sqrt(dim);
  for (let j = 0; j < dim; j++) v[j] += gauss() * noise;
  for (let r = 0; r < rank; r++) {
    const z = gauss() * SPREAD;
    const base = (cluster * rank + r) * dim;
    for (let j = 0; j < dim; j++) v[j] += z * bases[base + j];
  }
  normalizeInPlace(v);
  return cluster;
}

export function normalizeInPlace(v: Float32Array): Float32Array {
  let sum = 0;
  for (let j = 0; j < v.length; j++) sum += v[j] * v[j];
  const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let j = 0; j < v.length; j++) v[j] *= inv;
  return v;
}

const TAGS = ['ocean view', 'pool', 'family room', 'balcony', 'king bed', 'spa', 'gym', 'beach', 'city view', 'breakfast', 'bathroom', 'lobby'];

const HOTEL_WORDS = ['Azur', 'Serena', 'Alpenhof', 'Skyline', 'Riad', 'Pousada', 'Fjord', 'Palms'];
const CITIES = ['Nice', 'Zürich', 'Málaga', 'Grindelwald', 'New York', 'Marrakech', 'Lisboa', 'Ålesund', 'Kyoto', 'Lima', 'Oslo'];

export interface SyntheticRow {
  imageId: string;
  sourceUri: string;
  hotelId: string | null;
  hotelName: string | null;
  city: string | null;
  seoFilename: string;
  tags: string[];
  tagScores: number[];
  cluster: number;
  /** Planted duplicates (tests, dupes bench): set by onPart; default sha256(imageId), 1024 × 768. */
  contentSha256?: string;
  width?: number;
  height?: number;
}

/** Metadata that follows the cluster, as real tags and hotels follow what a photo shows. */
function describeRow(shardId: string, index: number, cluster: number, random: () => number, imagePrefix = shardId): SyntheticRow {
  const tags = [TAGS[cluster % TAGS.length], TAGS[(cluster * 5 + 3) % TAGS.length]];
  if (random() < 0.3) tags.push(TAGS[Math.floor(random() * TAGS.length)]);
  const unique = [...new Set(tags)];
  const hotelId = index % 50 === 49 ? null : `hotel-${(cluster * 7 + Math.floor(random() * 3)) % 1000}`;
  const imageId = `${imagePrefix}-img-${index}`;
  const hotelNumber = hotelId ? Number(hotelId.slice('hotel-'.length)) : 0;
  return {
    imageId,
    sourceUri: `s3://hotel-images/${shardId}/${index}.jpg`,
    hotelId,
    hotelName: hotelId ? `Hotel ${HOTEL_WORDS[hotelNumber % HOTEL_WORDS.length]} ${hotelNumber}` : null,
    city: hotelId ? CITIES[hotelNumber % CITIES.length] : null,
    seoFilename: `${hotelId ?? 'hotel'}-${unique.join('-').replace(/ /g, '-')}-${index}.jpg`,
    tags: unique,
    tagScores: unique.map(() => 0.5 + random() * 0.5),
    cluster,
  };
}

function partTable(rows: SyntheticRow[], embeddings: Float32Array, dim: number, processedAt: Date, modelId = 'synthetic'): Table {
  const schema = resultSchema(dim);
  const column = (name: string, values: unknown[]) =>
    vectorFromArray(values as never, schema.fields.find((f) => f.name === name)!.type).data[0];
  const embeddingType = schema.fields.find((f) => f.name === C.embedding)!.type as FixedSizeList<Float32>;
  const embedding = makeData({
    type: embeddingType,
    length: rows.length,
    nullCount: 0,
    child: makeData({ type: new Float32(), length: embeddings.length, nullCount: 0, data: embeddings }),
  });
  const sha = (r: SyntheticRow) => r.contentSha256 ?? createHash('sha256').update(r.imageId).digest('hex');
  const byName: Record<string, () => ReturnType<typeof column>> = {
    [C.imageId]: () => column(C.imageId, rows.map((r) => r.imageId)),
    [C.sourceUri]: () => column(C.sourceUri, rows.map((r) => r.sourceUri)),
    [C.hotelId]: () => column(C.hotelId, rows.map((r) => r.hotelId)),
    [C.hotelName]: () => column(C.hotelName, rows.map((r) => r.hotelName)),
    [C.city]: () => column(C.city, rows.map((r) => r.city)),
    [C.seoFilename]: () => column(C.seoFilename, rows.map((r) => r.seoFilename)),
    [C.tags]: () => column(C.tags, rows.map((r) => r.tags)),
    [C.tagScores]: () => column(C.tagScores, rows.map((r) => Float32Array.from(r.tagScores))),
    [C.embedding]: () => embedding,
    [C.width]: () => column(C.width, rows.map((r) => r.width ?? 1024)),
    [C.height]: () => column(C.height, rows.map((r) => r.height ?? 768)),
    [C.format]: () => column(C.format, rows.map(() => 'jpeg')),
    [C.contentSha256]: () => column(C.contentSha256, rows.map(sha)),
    [C.modelId]: () => column(C.modelId, rows.map(() => modelId)),
    [C.taxonomyId]: () => column(C.taxonomyId, rows.map(() => 'synthetic-v1')),
    [C.processedAt]: () => column(C.processedAt, rows.map(() => processedAt)),
  };
  const children = schema.fields.map((f) => byName[f.name]());
  const data = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new Table(schema as Schema, [new RecordBatch(schema, data)]);
}

export interface ShardSpec {
  shardId: string;
  count: number;
  dim: number;
  /** Seed of this shard's rows; shards with different seeds draw different rows from one space. */
  seed: number;
  /** Failed images, recorded in part markers and errors.jsonl only. */
  failures?: number;
  /** These failures instead of `failures` generated ones (tests: a later run failing images an earlier one embedded). */
  failedImages?: { imageId: string; code: ImageErrorCode }[];
  partSize?: number;
  space?: EmbeddingSpace;
  /** Keep rows and embeddings in memory and return them (tests; not for a million rows). */
  keep?: boolean;
  /** Image ids are `<imagePrefix>-img-<n>`: two shards with one prefix hold the same images. @default shardId */
  imagePrefix?: string;
  /** The model named in the rows and summary. @default 'synthetic' */
  modelId?: string;
  /** Sees each part's packed float32 embeddings before they are written (benchmark ground truth). */
  onPart?: (embeddings: Float32Array, rows: SyntheticRow[]) => void;
}

export interface WrittenShard {
  uri: string;
  shardId: string;
  rows: number;
  failed: number;
  parts: number;
  /** Only with `keep`. */
  kept?: { rows: SyntheticRow[]; embeddings: Float32Array[]; failedIds: string[] };
}

const FAILURE_CODES = [ImageErrorCode.NOT_FOUND, ImageErrorCode.CORRUPT_IMAGE, ImageErrorCode.TOO_LARGE];

/** Writes a complete shard folder at `uri` (local folder or s3:// prefix). */
export async function writeShardFolder(uri: string, spec: ShardSpec): Promise<WrittenShard> {
  const { shardId, count, dim, seed } = spec;
  const failures = spec.failedImages?.length ?? spec.failures ?? 0;
  const partSize = spec.partSize ?? 10_000;
  const space = spec.space ?? makeEmbeddingSpace({ dim, clusters: 16 });
  const random = makeRandom(seed);
  const gauss = makeGaussian(random);
  const processedAt = new Date(Date.UTC(2025, 0, 1));
  const kept = spec.keep ? { rows: [] as SyntheticRow[], embeddings: [] as Float32Array[], failedIds: [] as string[] } : undefined;
  const errors = spec.failedImages
    ? spec.failedImages.map((f) => ({ image_id: f.imageId, source_uri: `s3://hotel-images/${f.imageId}.jpg`, error_code: f.code, message: 'synthetic failure' }))
    : Array.from({ length: failures }, (_, j) => ({
        image_id: `${shardId}-failed-${j}`,
        source_uri: `s3://hotel-images/${shardId}/failed-${j}.jpg`,
        error_code: FAILURE_CODES[j % FAILURE_CODES.length],
        message: 'synthetic failure',
      }));
  kept?.failedIds.push(...errors.map((e) => e.image_id));

  const partCount = Math.max(1, Math.ceil(count / partSize));
  const parts: { name: string; rows: number }[] = [];
  for (let p = 0; p < partCount; p++) {
    const first = p * partSize;
    const n = Math.min(partSize, count - first);
    const partErrors = p === partCount - 1 ? errors : [];
    const name = `part-${String(p).padStart(5, '0')}`;
    if (n > 0) {
      const embeddings = new Float32Array(n * dim);
      const rows: SyntheticRow[] = [];
      for (let i = 0; i < n; i++) {
        const cluster = sampleEmbedding(space, random, gauss, embeddings, i * dim);
        rows.push(describeRow(shardId, first + i, cluster, random, spec.imagePrefix));
      }
      spec.onPart?.(embeddings, rows);
      await writeAtomic(joinUri(uri, `${name}.arrow`), Buffer.from(tableToIPC(partTable(rows, embeddings, dim, processedAt, spec.modelId), 'file')));
      parts.push({ name: `${name}.arrow`, rows: n });
      if (kept) {
        kept.rows.push(...rows);
        for (let i = 0; i < n; i++) kept.embeddings.push(embeddings.slice(i * dim, (i + 1) * dim));
      }
    }
    await writeJsonAtomic(joinUri(uri, `${name}.json`), {
      part: p, first_index: first, input: n + partErrors.length, succeeded: n, failed: partErrors.length, errors: partErrors,
    });
  }
  await writeAtomic(joinUri(uri, 'errors.jsonl'), errors.map((e) => JSON.stringify(e) + '\n').join(''));
  const failedByCode: Record<string, number> = {};
  for (const e of errors) failedByCode[e.error_code] = (failedByCode[e.error_code] ?? 0) + 1;
  await writeJsonAtomic(joinUri(uri, 'summary.json'), {
    shard: `s3://manifests/${shardId}.jsonl`, input: count + failures, succeeded: count, failed: failures,
    failed_by_code: failedByCode, parts, model_id: spec.modelId ?? 'synthetic', taxonomy_id: 'synthetic-v1', embedding_dim: dim,
    started_at: processedAt.toISOString(), finished_at: processedAt.toISOString(), timings_ms: {}, images_per_second: 0,
  });
  return { uri, shardId, rows: count, failed: failures, parts: parts.length, kept };
}

/** `count` query vectors from the same space, not in any shard (another seed). */
export function sampleQueries(space: EmbeddingSpace, count: number, seed: number): Float32Array[] {
  const random = makeRandom(seed);
  const gauss = makeGaussian(random);
  const out = new Float32Array(count * space.dim);
  for (let i = 0; i < count; i++) sampleEmbedding(space, random, gauss, out, i * space.dim);
  return Array.from({ length: count }, (_, i) => out.slice(i * space.dim, (i + 1) * space.dim));
}
