/**
 * Duplicate photos: exact (same content_sha256) and near (embedding cosine ≥ threshold), within a
 * hotel and across the catalog. Exact duplicates come from one streamed pass over the metadata
 * columns; near duplicates from k-nearest-neighbour searches of the vector index, one LanceDB query
 * per batch of rows (each row's own embedding as a query vector, a distance cut), never all pairs.
 * Every accepted pair joins two rows in a union-find; each resulting group gets a representative.
 *
 * Representative: the largest image (width × height), ties to the smallest image_id. The largest
 * copy is the one worth keeping on a CDN; the id tie-break makes the choice deterministic.
 */
import type * as lancedb from '@lancedb/lancedb';
import type { Table as ArrowTable } from 'apache-arrow';
import { SystemErrorCode, VistaError } from '../errors';
import { ResultColumn as C } from '../pipeline/schema';
import type { VistaStore } from '../store/connect';
import { packedEmbeddings } from './embedding-column';
import { allPairsAbove } from './all-pairs';
import { imagesTable, scanBatches } from './scan';
import { UnionFind } from './union-find';

export const DUPES_SCOPES = ['hotel', 'catalog', 'both'] as const;
/** hotel: pairs inside one hotel; catalog: pairs across two hotels; both: every pair. */
export type DupesScope = (typeof DUPES_SCOPES)[number];

export const DUPES_DEFAULTS = { threshold: 0.97, scope: 'both' as DupesScope, neighbours: 10, nprobes: 20, refineFactor: 5, queryBatch: 64, concurrency: 2, exactFallbackMaxRows: 20_000 };

export interface DupesOptions {
  /** Cosine similarity at or above which two images are near duplicates. @default 0.97 */
  threshold?: number;
  /** @default 'both' */
  scope?: DupesScope;
  /** Nearest neighbours asked per row (itself included); union-find chains larger groups. @default 10 */
  neighbours?: number;
  /** IVF partitions probed per query. @default 20 */
  nprobes?: number;
  /** Candidates re-ranked on full vectors, as a multiple of the neighbours. @default 5 */
  refineFactor?: number;
  /** Query vectors per LanceDB query. @default 64 */
  queryBatch?: number;
  /** LanceDB queries in flight. @default 2 */
  concurrency?: number;
  /**
   * Without a vector index, stores up to this many rows are compared all pairs in memory (with a
   * warning): n²/2 dot products, 163 s at 20,000 rows of 512 dims on a loaded 2-core machine. @default 20,000
   */
  exactFallbackMaxRows?: number;
  /** Compare all pairs in memory whatever the store's size (n² time, n × dim floats of memory). */
  exact?: boolean;
  onProgress?: (rowsSearched: number, rows: number) => void;
  onWarning?: (message: string) => void;
  /** Sees every accepted near pair (image ids, cosine similarity); a pair is usually seen twice, once from each end. */
  onNearPair?: (a: string, b: string, similarity: number) => void;
}

export interface DupeMember {
  imageId: string;
  hotelId: string | null;
  contentSha256: string;
  width: number;
  height: number;
}

export interface DupeGroup {
  /** 1, 2, …: by descending size, then by representative id. */
  group: number;
  /** exact: one content hash; near: all hashes differ; mixed: some of each. */
  kind: 'exact' | 'near' | 'mixed';
  /** hotel: every member in one hotel; catalog: members in two hotels or more. */
  scope: 'hotel' | 'catalog';
  representative: string;
  /** Representative first, then by image_id. */
  members: DupeMember[];
}

export interface DupesReport {
  rows: number;
  threshold: number;
  scope: DupesScope;
  neighbours: number;
  /** ann: the vector index; exact: all pairs compared in memory. */
  search: 'ann' | 'exact';
  exactPairs: number;
  nearPairs: number;
  groups: DupeGroup[];
  duplicateRows: number;
  seconds: number;
}

const NO_HOTEL = '\u0000';

interface Rows {
  ids: string[];
  hotels: (string | null)[];
  shas: string[];
  pixels: Float64Array;
  widths: Int32Array;
  heights: Int32Array;
  index: Map<string, number>;
}

async function readRows(table: lancedb.Table): Promise<Rows> {
  const ids: string[] = [];
  const hotels: (string | null)[] = [];
  const shas: string[] = [];
  const w: number[] = [];
  const h: number[] = [];
  for await (const batch of scanBatches(table, { columns: [C.imageId, C.hotelId, C.contentSha256, C.width, C.height] })) {
    const [id, hotel, sha, width, height] = [C.imageId, C.hotelId, C.contentSha256, C.width, C.height].map((n) => batch.getChild(n)!);
    for (let i = 0; i < batch.numRows; i++) {
      ids.push(id.get(i) as string);
      hotels.push((hotel.get(i) as string | null) ?? null);
      shas.push((sha.get(i) as string | null) ?? '');
      w.push(Number(width.get(i) ?? 0));
      h.push(Number(height.get(i) ?? 0));
    }
  }
  const widths = Int32Array.from(w);
  const heights = Int32Array.from(h);
  const pixels = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) pixels[i] = widths[i] * heights[i];
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));
  if (index.size !== ids.length) throw new VistaError(SystemErrorCode.STORE_FAILED, `${table.name}: image_id is not unique (${ids.length - index.size} repeated rows)`);
  return { ids, hotels, shas, pixels, widths, heights, index };
}

function validated(options: DupesOptions) {
  const o = { ...DUPES_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof DUPES_DEFAULTS & DupesOptions;
  if (!(o.threshold > 0 && o.threshold <= 1)) throw new VistaError(SystemErrorCode.REQUEST_INVALID, `threshold must be in (0, 1], got ${o.threshold}`);
  if (!DUPES_SCOPES.includes(o.scope)) throw new VistaError(SystemErrorCode.REQUEST_INVALID, `scope must be one of ${DUPES_SCOPES.join(', ')}, got ${o.scope}`);
  for (const name of ['neighbours', 'nprobes', 'refineFactor', 'queryBatch', 'concurrency'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1) throw new VistaError(SystemErrorCode.REQUEST_INVALID, `${name} must be a positive integer, got ${o[name]}`);
  }
  return o;
}

async function hasVectorIndex(table: lancedb.Table): Promise<boolean> {
  return (await table.listIndices()).some((i) => i.columns.length === 1 && i.columns[0] === C.embedding);
}

export async function findDupes(store: VistaStore, options: DupesOptions = {}): Promise<DupesReport> {
  const o = validated(options);
  const started = performance.now();
  const table = await imagesTable(store);
  const rows = await readRows(table);
  const n = rows.ids.length;
  const sets = new UnionFind(n);
  const sameHotel = (a: number, b: number) => (rows.hotels[a] ?? NO_HOTEL) === (rows.hotels[b] ?? NO_HOTEL);
  const accepted = (a: number, b: number) => o.scope === 'both' || (o.scope === 'hotel') === sameHotel(a, b);

  // Exact: rows by content hash; every accepted pair within a hash joins.
  let exactPairs = 0;
  const byHash = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    if (!rows.shas[i]) continue;
    const list = byHash.get(rows.shas[i]);
    if (list) list.push(i);
    else byHash.set(rows.shas[i], [i]);
  }
  for (const list of byHash.values()) {
    for (let x = 0; x < list.length; x++) {
      for (let y = x + 1; y < list.length; y++) {
        if (!accepted(list[x], list[y])) continue;
        exactPairs++;
        sets.union(list[x], list[y]);
      }
    }
  }
  byHash.clear();

  // Near: each row's k nearest neighbours within the distance cut.
  let exhaustive = o.exact === true;
  if (!exhaustive && !(await hasVectorIndex(table))) {
    if (n > o.exactFallbackMaxRows) {
      throw new VistaError(
        SystemErrorCode.STORE_FAILED,
        `${store.uri} has no vector index on ${C.embedding}, and searching all ${n} rows without one is too slow (more than ${o.exactFallbackMaxRows}): build it with \`vista backfill index --db ${store.uri}\` (or pass --exact to search exhaustively anyway)`,
      );
    }
    o.onWarning?.(`no vector index on ${C.embedding}: searching all ${n} rows exhaustively (fine for small stores; build one with \`vista backfill index\`)`);
    exhaustive = true;
  }
  const maxDistance = 1 - o.threshold;
  let nearPairs = 0;
  const search = async (queries: Float32Array[]): Promise<ArrowTable> => {
    let query = table.vectorSearch(queries[0]);
    for (let q = 1; q < queries.length; q++) query = query.addQueryVector(queries[q]);
    query = query.column(C.embedding).distanceType('cosine').distanceRange(undefined, maxDistance + 1e-6).select([C.imageId, '_distance']).limit(o.neighbours);
    query = query.nprobes(o.nprobes).refineFactor(o.refineFactor);
    return query.toArrow();
  };
  let searched = 0;
  if (exhaustive) {
    const { values, dim } = await allEmbeddings(table, rows.index);
    allPairsAbove(values, n, dim, o.threshold - 1e-6, (a, b, similarity) => {
      if (!accepted(a, b)) return;
      nearPairs++;
      o.onNearPair?.(rows.ids[a], rows.ids[b], similarity);
      sets.union(a, b);
    });
    o.onProgress?.(n, n);
  }
  for await (const batch of exhaustive ? [] : scanBatches(table, { columns: [C.imageId, C.embedding], batchRows: o.queryBatch * o.concurrency * 4 })) {
    const { dim, values } = packedEmbeddings(batch.getChild(C.embedding)!);
    const ids = batch.getChild(C.imageId)!;
    const chunks: { first: number; queries: Float32Array[] }[] = [];
    for (let first = 0; first < batch.numRows; first += o.queryBatch) {
      const last = Math.min(batch.numRows, first + o.queryBatch);
      chunks.push({ first, queries: Array.from({ length: last - first }, (_, q) => values.subarray((first + q) * dim, (first + q + 1) * dim)) });
    }
    for (let c = 0; c < chunks.length; c += o.concurrency) {
      const running = chunks.slice(c, c + o.concurrency);
      const results = await Promise.all(running.map((chunk) => search(chunk.queries)));
      results.forEach((result, r) => {
        const queryIndex = result.getChild('query_index');
        const found = result.getChild(C.imageId)!;
        const distance = result.getChild('_distance')!;
        for (let i = 0; i < result.numRows; i++) {
          const a = rows.index.get(ids.get(running[r].first + Number(queryIndex?.get(i) ?? 0)) as string);
          const b = rows.index.get(found.get(i) as string);
          const d = Number(distance.get(i));
          // Rows written after the metadata pass are not in `rows`: they wait for the next run.
          if (a === undefined || b === undefined || a === b || d > maxDistance + 1e-6 || !accepted(a, b)) continue;
          nearPairs++;
          o.onNearPair?.(rows.ids[a], rows.ids[b], 1 - d);
          sets.union(a, b);
        }
      });
    }
    searched += batch.numRows;
    o.onProgress?.(searched, n);
  }

  const groups = sets.groups().map((members) => describeGroup(rows, members));
  groups.sort((x, y) => y.members.length - x.members.length || (x.representative < y.representative ? -1 : 1));
  groups.forEach((g, i) => (g.group = i + 1));
  return {
    rows: n,
    threshold: o.threshold,
    scope: o.scope,
    neighbours: o.neighbours,
    search: exhaustive ? 'exact' : 'ann',
    exactPairs,
    nearPairs,
    groups,
    duplicateRows: groups.reduce((s, g) => s + g.members.length - 1, 0),
    seconds: (performance.now() - started) / 1000,
  };
}

/** Every row's embedding, packed in the metadata pass's row order. */
async function allEmbeddings(table: lancedb.Table, index: Map<string, number>): Promise<{ values: Float32Array; dim: number }> {
  let values = new Float32Array(0);
  let dim = 0;
  for await (const batch of scanBatches(table, { columns: [C.imageId, C.embedding] })) {
    const packed = packedEmbeddings(batch.getChild(C.embedding)!);
    if (!dim) {
      dim = packed.dim;
      values = new Float32Array(index.size * dim);
    }
    const ids = batch.getChild(C.imageId)!;
    for (let i = 0; i < batch.numRows; i++) {
      const row = index.get(ids.get(i) as string);
      if (row === undefined) continue;
      // Cosine = dot product of unit vectors; stored float16 values are only nearly unit.
      const v = values.subarray(row * dim, (row + 1) * dim);
      v.set(packed.values.subarray(i * dim, (i + 1) * dim));
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += v[j] * v[j];
      const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
      for (let j = 0; j < dim; j++) v[j] *= inv;
    }
  }
  return { values, dim };
}

/** The representative rule of the module comment: most pixels, then smallest image_id. */
export function pickRepresentative(members: { imageId: string; width: number; height: number }[]): string {
  let best = members[0];
  for (const m of members.slice(1)) {
    const [pm, pb] = [m.width * m.height, best.width * best.height];
    if (pm > pb || (pm === pb && m.imageId < best.imageId)) best = m;
  }
  return best.imageId;
}

function describeGroup(rows: Rows, indexes: number[]): DupeGroup {
  const members: DupeMember[] = indexes.map((i) => ({ imageId: rows.ids[i], hotelId: rows.hotels[i], contentSha256: rows.shas[i], width: rows.widths[i], height: rows.heights[i] }));
  const representative = pickRepresentative(members);
  members.sort((a, b) => (a.imageId === representative ? -1 : b.imageId === representative ? 1 : a.imageId < b.imageId ? -1 : 1));
  const hashes = new Set(members.map((m) => m.contentSha256));
  const kind = hashes.size === 1 ? 'exact' : hashes.size === members.length ? 'near' : 'mixed';
  const hotels = new Set(members.map((m) => m.hotelId ?? NO_HOTEL));
  return { group: 0, kind, scope: hotels.size === 1 ? 'hotel' : 'catalog', representative, members };
}
