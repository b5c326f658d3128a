/**
 * Planning a backfill without ever holding the catalog: four steps, each bounded in memory
 * whatever the catalog's size, run by the state machine as Lambda tasks (two of them in
 * Distributed Maps):
 *
 *  1. `planInputs`: lists the input files (plan-inputs.ts) and fixes the settings → inputs.json.
 *  2. `splitInput` (one per input file): streams the file once. Inventory keys are unique, so its
 *     entries go straight into shard-sized chunks. Manifest entries are hash-partitioned on image
 *     id and spilled into partition files (a bounded buffer, flushed as numbered segments).
 *  3. `dedupPartition` (one per partition; manifests only): reads the partition's spill in input
 *     order, keeps the first entry of each image id (exact: every copy of an id is in this one
 *     partition), writes shard-sized chunks.
 *  4. `finishPlan`: numbers the chunks in a fixed order (input or partition, then chunk), copies
 *     them to `shards/shard-NNNNN.jsonl`, writes the summary `shards/_manifest.json` last, and
 *     returns the run plan with its Batch waves.
 *
 * Every line of every input is counted once: kept, duplicate, invalid, blank or (inventory)
 * filtered. Each step is idempotent (its marker file is written last and reused), so a
 * redriven or re-run execution redoes only what did not finish; a run cannot be re-planned
 * from other inputs or settings.
 */
import { createHash } from 'node:crypto';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { SystemErrorCode, VistaError } from '../errors';
import { imageIdFromUri } from '../image-id';
import { ByteBuilder } from '../io/byte-builder';
import { mapWithConcurrency } from '../io/concurrency';
import { exists, joinUri, listFiles, listNames, openReadStream, readJson, removeFiles, writeAtomic, writeJsonAtomic } from '../io/location';
import { openStreamedObject, type StreamedObject } from '../io/streamed-write';
import { isInvalidEntry, parseShardLine } from '../pipeline/shard-reader';
import { readManifestLines } from './manifest-lines';
import { assertRunId, runLayout, SHARD_MANIFEST_FILE } from './layout';
import { copyFile, planLayout } from './plan-files';
import { DEFAULT_IMAGE_SUFFIXES, makeInventoryRowReader, resolveInputs, type InputFile, type KeyFilter, type PlanSource } from './plan-inputs';
import { toShardLine } from './shard-line';
import { planWaves, type Wave } from './waves';

export interface PlanSettings {
  shardSize: number;
  maxArraySize: number;
  waveConcurrency: number;
  /** Manifests only: partitions of the duplicate pass (default: from the inputs' size). */
  partitions?: number;
  /** Uncompressed manifest bytes per partition, when the count is derived. */
  partitionBytes: number;
  filter: KeyFilter;
}

/** inputs.json: what the run is planned from. */
export interface PlanInputs {
  fingerprint: string;
  source: PlanSource;
  dedup: boolean;
  partitions: number;
  shardSize: number;
  filter: KeyFilter;
  inventoryColumns?: string[];
  files: InputFile[];
  /** Manifests: the uncompressed bytes per gzip byte the partition count was sized with. */
  gzipExpansion?: number;
}

const EXAMPLES = 5;
/** Buffered spill bytes of one split task before they are written out as a segment. */
export const SPILL_FLUSH_BYTES = 32 * 1024 * 1024;
/** Uncompressed bytes per gzip byte assumed when sizing the dedup partitions, unless a sample says otherwise. */
export const GZIP_EXPANSION = 5;
/** Compressed bytes read from the first gzip input to measure its expansion. */
const GZIP_SAMPLE_BYTES = 1024 * 1024;

export async function planInputs(workUri: string, runId: string, source: PlanSource, settings: PlanSettings): Promise<PlanInputs> {
  assertRunId(runId);
  const layout = planLayout(workUri, runId);
  const resolved = await resolveInputs(source);
  const dedup = source.kind !== 'inventory';
  const expansion = dedup ? await gzipExpansionOf(resolved.files) : GZIP_EXPANSION;
  const bytes = resolved.files.reduce((sum, f) => sum + f.size * (isGzip(f.uri) ? expansion : 1), 0);
  const partitions = dedup ? (settings.partitions ?? Math.min(10_000, Math.max(1, Math.ceil(bytes / settings.partitionBytes)))) : 0;
  const filter = source.kind === 'inventory' ? settings.filter : { keyPrefix: '', suffixes: [] };
  const identity = { source, dedup, partitions, shardSize: settings.shardSize, filter, files: resolved.files };
  const inputs: PlanInputs = {
    fingerprint: createHash('sha256').update(JSON.stringify(identity)).digest('hex'),
    ...identity,
    ...(resolved.inventoryColumns ? { inventoryColumns: resolved.inventoryColumns } : {}),
    ...(dedup && resolved.files.some((f) => isGzip(f.uri)) ? { gzipExpansion: Math.round(expansion * 100) / 100 } : {}),
  };
  if (await exists(layout.inputsUri)) {
    const previous = await readJson<PlanInputs>(layout.inputsUri);
    if (previous.fingerprint === inputs.fingerprint) return previous;
    throw new VistaError(
      SystemErrorCode.CONFIG_INVALID,
      `run ${runId} was planned from other inputs or settings (${previous.source.kind} ${previous.source.uri}, shard size ${previous.shardSize}, ` +
        `${previous.files.length} files); start a new run id`,
    );
  }
  await writeJsonAtomic(layout.inputsUri, inputs);
  return inputs;
}

const isGzip = (uri: string) => /\.gz$/i.test(uri);

/**
 * Uncompressed bytes per stored byte of the gzip inputs, from the first MiB of the first one (one
 * short read): JSONL manifests compress ~10×, twice what GZIP_EXPANSION assumes, and partitions
 * sized from the assumption held twice the ids planned. GZIP_EXPANSION when there is nothing to
 * sample or the sample cannot be read (the split step then reports the file).
 */
async function gzipExpansionOf(files: InputFile[]): Promise<number> {
  const file = files.find((f) => isGzip(f.uri) && f.size > 0);
  if (!file) return GZIP_EXPANSION;
  try {
    const stream = await openReadStream(file.uri);
    const chunks: Buffer[] = [];
    let read = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        read += chunk.length;
        if (read >= GZIP_SAMPLE_BYTES) break;
      }
    } finally {
      stream.destroy();
    }
    const sample = Buffer.concat(chunks).subarray(0, GZIP_SAMPLE_BYTES);
    const inflated = gunzipSync(sample, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    return sample.length > 0 && inflated.length > 0 ? Math.min(100, Math.max(1, inflated.length / sample.length)) : GZIP_EXPANSION;
  } catch {
    return GZIP_EXPANSION;
  }
}

interface Examples<T> {
  count: number;
  examples: T[];
}
export type InvalidExample = { file: string; line: number; reason: string; text: string };
export type DuplicateExample = { file: string; line: number; uri: string; imageId: string };

/** split/input-IIIII.json */
export interface SplitOutcome {
  input: number;
  file: string;
  lines: number;
  blankLines: number;
  invalid: Examples<InvalidExample>;
  /** Where every invalid line is listed with its reason (plan/invalid/input-IIIII.jsonl), when there is one. */
  invalidLinesUri?: string;
  /** Inventory keys outside the key prefix or image suffixes, and non-current versions. */
  filtered: number;
  /** Entries passed on: to chunks (inventory) or to the spill (manifests). */
  kept: number;
  /** Inventory: entries of each chunk written. */
  chunks: number[];
  /** Manifests: spill segments written per partition, in total. */
  spillFiles: number;
}

export async function splitInput(workUri: string, runId: string, input: number): Promise<SplitOutcome> {
  const layout = planLayout(workUri, runId);
  const marker = layout.splitMarkerUri(input);
  if (await exists(marker)) return readJson<SplitOutcome>(marker);
  const plan = await readJson<PlanInputs>(layout.inputsUri);
  const file = plan.files[input];
  if (!file) throw new VistaError(SystemErrorCode.REQUEST_INVALID, `run ${runId} has no input file ${input} (${plan.files.length} files)`);

  const outcome: SplitOutcome = { input, file: file.uri, lines: 0, blankLines: 0, invalid: { count: 0, examples: [] }, filtered: 0, kept: 0, chunks: [], spillFiles: 0 };
  // Examples in the marker; every invalid line in a file of its own, streamed (a broken export can be all invalid).
  let invalidLines: StreamedObject | undefined;
  const invalid = async (line: number, reason: string, text: string) => {
    outcome.invalid.count++;
    const example = { file: file.uri, line, reason, text: text.slice(0, 200) };
    if (outcome.invalid.examples.length < EXAMPLES) outcome.invalid.examples.push(example);
    invalidLines ??= openStreamedObject(layout.invalidLinesUri(input), { contentType: NDJSON });
    await invalidLines.write(`${JSON.stringify(example)}\n`);
  };
  const sink = plan.dedup ? makeSpill(layout, input, plan.partitions) : makeChunker((i) => openStreamedObject(layout.chunkUri(layout.inputGroup(input), i), { contentType: NDJSON }), plan.shardSize);

  try {
    await splitLines(file, plan, outcome, sink, invalid);
    if (invalidLines) {
      await invalidLines.commit();
      outcome.invalidLinesUri = layout.invalidLinesUri(input);
    }
  } catch (err) {
    await sink.abort();
    await invalidLines?.abort();
    throw err;
  }
  const written = await sink.finish();
  if (plan.dedup) outcome.spillFiles = written.length;
  else outcome.chunks = written;
  await writeJsonAtomic(marker, outcome);
  return outcome;
}

async function splitLines(file: InputFile, plan: PlanInputs, outcome: SplitOutcome, sink: Sink, invalid: (line: number, reason: string, text: string) => Promise<void>): Promise<void> {
  const inventoryRow = file.format === 'inventory-csv' ? makeInventoryRowReader(plan.inventoryColumns ?? [], plan.filter) : undefined;
  for await (const { lineNumber, text } of readManifestLines(file.uri)) {
    outcome.lines = lineNumber;
    if (text.trim() === '') {
      outcome.blankLines++;
      continue;
    }
    let entry: ReturnType<typeof parseShardLine>;
    if (inventoryRow) {
      const row = inventoryRow(text);
      if (row.kind === 'filtered') {
        outcome.filtered++;
        continue;
      }
      if (row.kind === 'invalid') {
        await invalid(lineNumber, row.reason, text);
        continue;
      }
      // Not through the manifest parser: a key may hold spaces, which a plain-text line may not.
      entry = { index: 0, uri: row.uri, imageId: imageIdFromUri(row.uri) };
    } else {
      entry = parseShardLine(text, 0);
    }
    if (isInvalidEntry(entry)) {
      await invalid(lineNumber, entry.reason, entry.line);
      continue;
    }
    outcome.kept++;
    await sink.add(entry.imageId, toShardLine(entry), lineNumber);
  }
}

/** dedup/part-PPPPP.json */
export interface DedupOutcome {
  partition: number;
  entries: number;
  duplicates: Examples<DuplicateExample>;
  chunks: number[];
  /** Bytes of the partition's spill, and the passes over it that kept the id set under the budget. */
  spillBytes?: number;
  passes?: number;
}

/**
 * Spill bytes one dedup pass may hold the ids of. Measured (`npm run bench:plan`, 20M keys, chunks
 * streamed): a dedup task of ~430 MB of spill in 2 passes (~1.43M ids each) peaked at 476–535 MiB
 * RSS, so a full 256 MiB pass stays near 600 MiB, under 1 GB with room to spare: a partition larger
 * than planned (a manifest that compresses better than sampled, an S3 manifest of unknown size)
 * takes more passes, never more memory.
 */
export const DEDUP_PASS_SPILL_BYTES = 256 * 1024 * 1024;

export async function dedupPartition(
  workUri: string,
  runId: string,
  partition: number,
  options: { passSpillBytes?: number } = {},
): Promise<DedupOutcome> {
  const layout = planLayout(workUri, runId);
  const marker = layout.dedupMarkerUri(partition);
  if (await exists(marker)) return readJson<DedupOutcome>(marker);
  const plan = await readJson<PlanInputs>(layout.inputsUri);
  if (!plan.dedup || partition >= plan.partitions) throw new VistaError(SystemErrorCode.REQUEST_INVALID, `run ${runId} has no partition ${partition}`);

  const dir = layout.spillDirUri(partition);
  // Names sort by input, then segment: the first occurrence in input order wins, as in one manifest.
  const spill = await listFiles(dir);
  const spillBytes = spill.reduce((sum, f) => sum + f.size, 0);
  const passes = Math.max(1, Math.ceil(spillBytes / (options.passSpillBytes ?? DEDUP_PASS_SPILL_BYTES)));
  const outcome: DedupOutcome = { partition, entries: 0, duplicates: { count: 0, examples: [] }, chunks: [], spillBytes, passes };
  const chunker = makeChunker((i) => openStreamedObject(layout.chunkUri(layout.partitionGroup(partition), i), { contentType: NDJSON }), plan.shardSize);
  // Each pass keeps the ids of one hash slice: every copy of an id is in the same pass, so the
  // first occurrence still wins, and the output order is fixed (pass, then spill order).
  try {
    for (let pass = 0; pass < passes; pass++) await dedupPass(plan, dir, spill, pass, passes, outcome, chunker);
  } catch (err) {
    await chunker.abort();
    throw err;
  }
  outcome.chunks = await chunker.finish();
  await writeJsonAtomic(marker, outcome);
  return outcome;
}

/** One hash slice of a partition's ids, in spill order: the first occurrence of each goes to the chunker. */
async function dedupPass(plan: PlanInputs, dir: string, spill: { name: string }[], pass: number, passes: number, outcome: DedupOutcome, chunker: Sink): Promise<void> {
  const seen = new Set<string>();
  for (const { name } of spill) {
    for await (const { text } of readManifestLines(joinUri(dir, name))) {
      if (text === '') continue;
      const spilled = parseSpillLine(text);
      if (passes > 1 && passOf(spilled.imageId, passes) !== pass) continue;
      if (seen.has(spilled.imageId)) {
        outcome.duplicates.count++;
        if (outcome.duplicates.examples.length < EXAMPLES) {
          outcome.duplicates.examples.push({ file: plan.files[spilled.input]?.uri ?? '', line: spilled.line, uri: spilled.uri, imageId: spilled.imageId });
        }
        continue;
      }
      seen.add(ownCopy(spilled.imageId));
      outcome.entries++;
      await chunker.add(spilled.imageId, spilled.shardLine, spilled.line);
    }
  }
}

/** shards/_manifest.json: the plan's summary, written last. */
export interface PlanSummary {
  fingerprint: string;
  source: PlanSource;
  inputFiles: number;
  partitions: number;
  shardsUri: string;
  shardSize: number;
  shardCount: number;
  /** Entries in shards (= lines − blank − invalid − filtered − duplicates). */
  entries: number;
  /** Entries of each shard, in shard order: the last chunk of each input file or partition is short. */
  shardEntries: number[];
  lines: number;
  blankLines: number;
  filtered: number;
  invalid: Examples<InvalidExample>;
  /** The files listing every invalid line with its reason, one per input that had any. */
  invalidLinesUris: string[];
  duplicates: Examples<DuplicateExample>;
  createdAt: string;
}

export async function finishPlan(workUri: string, runId: string, concurrency = 32): Promise<PlanSummary> {
  const plan = planLayout(workUri, runId);
  const run = runLayout(workUri, runId);
  const inputs = await readJson<PlanInputs>(plan.inputsUri);
  if (await exists(run.shardManifestUri)) {
    const previous = await readJson<PlanSummary>(run.shardManifestUri);
    if (previous.fingerprint === inputs.fingerprint) return previous;
  }
  const splits = await mapWithConcurrency(inputs.files, concurrency, async (_, i) => readMarker<SplitOutcome>(plan.splitMarkerUri(i), `input ${i}`));
  const dedups = inputs.dedup
    ? await mapWithConcurrency(Array.from({ length: inputs.partitions }, (_, p) => p), concurrency, (p) => readMarker<DedupOutcome>(plan.dedupMarkerUri(p), `partition ${p}`))
    : [];
  const groups = inputs.dedup
    ? dedups.map((d) => ({ group: plan.partitionGroup(d.partition), chunks: d.chunks }))
    : splits.map((s) => ({ group: plan.inputGroup(s.input), chunks: s.chunks }));
  const copies = groups.flatMap(({ group, chunks }) => chunks.map((_, c) => plan.chunkUri(group, c)));
  await mapWithConcurrency(copies, concurrency, (from, index) => copyFile(from, run.shardUri(index)));
  await removeStaleShards(run.shardsUri, copies.length);

  const sum = (f: (s: SplitOutcome) => number) => splits.reduce((n, s) => n + f(s), 0);
  const summary: PlanSummary = {
    fingerprint: inputs.fingerprint,
    source: inputs.source,
    inputFiles: inputs.files.length,
    partitions: inputs.partitions,
    shardsUri: run.shardsUri,
    shardSize: inputs.shardSize,
    shardCount: copies.length,
    entries: groups.reduce((n, g) => n + g.chunks.reduce((a, b) => a + b, 0), 0),
    shardEntries: groups.flatMap((g) => g.chunks),
    lines: sum((s) => s.lines),
    blankLines: sum((s) => s.blankLines),
    filtered: sum((s) => s.filtered),
    invalid: { count: sum((s) => s.invalid.count), examples: splits.flatMap((s) => s.invalid.examples).slice(0, EXAMPLES) },
    invalidLinesUris: splits.flatMap((s) => (s.invalidLinesUri ? [s.invalidLinesUri] : [])),
    duplicates: { count: dedups.reduce((n, d) => n + d.duplicates.count, 0), examples: dedups.flatMap((d) => d.duplicates.examples).slice(0, EXAMPLES) },
    createdAt: new Date().toISOString(),
  };
  if (summary.entries === 0) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${inputs.source.kind} ${inputs.source.uri} has no valid entries (${summary.lines} lines)`);
  }
  await writeJsonAtomic(run.shardManifestUri, summary);
  return summary;
}

export { planWaves, type Wave };

const NDJSON = 'application/x-ndjson';

async function readMarker<T>(uri: string, what: string): Promise<T> {
  if (!(await exists(uri))) throw new VistaError(SystemErrorCode.REQUEST_INVALID, `${what} was not planned (no ${uri}): its step did not finish`);
  return readJson<T>(uri);
}

interface Sink {
  add(imageId: string, shardLine: string, line: number): Promise<void>;
  /** Chunk sizes (chunker) or files written (spill). */
  finish(): Promise<number[]>;
  /** Drops what is half written (a chunk's multipart upload or temporary file). */
  abort(): Promise<void>;
}

/**
 * Lines into shard-sized chunks, each streamed to its file as it fills (a part of a few MiB held
 * at a time, not a shard of lines), so a task's memory does not grow with the shard size.
 */
function makeChunker(open: (index: number) => StreamedObject, shardSize: number): Sink {
  const sizes: number[] = [];
  let current: StreamedObject | undefined;
  let lines = 0;
  const close = async () => {
    if (!current) return;
    await current.commit();
    current = undefined;
    sizes.push(lines);
    lines = 0;
  };
  return {
    async add(_imageId, shardLine) {
      current ??= open(sizes.length);
      await current.write(`${shardLine}\n`);
      if (++lines === shardSize) await close();
    },
    async finish() {
      await close();
      return sizes;
    },
    async abort() {
      await current?.abort();
      current = undefined;
    },
  };
}

/** Partition of an image id: the same id always lands in the same partition. */
export function partitionOf(imageId: string, partitions: number): number {
  return createHash('sha1').update(imageId).digest().readUInt32BE(0) % partitions;
}

/** Pass of an image id within its partition: other hash bits than `partitionOf`, so a partition's ids spread evenly. */
function passOf(imageId: string, passes: number): number {
  return createHash('sha1').update(imageId).digest().readUInt32BE(4) % passes;
}

/**
 * A copy of the string that owns its characters: an id sliced from a line is a view that keeps
 * the line (and what it was sliced from) alive for as long as the Set holds the id. Measured at
 * 2M ids: 735 MiB peak RSS before, 692 MiB after; most of a pass's memory is the Set itself and
 * garbage not yet collected, which DEDUP_PASS_SPILL_BYTES bounds.
 */
function ownCopy(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** Entries hashed to partitions, encoded into one byte buffer each up to SPILL_FLUSH_BYTES in all, then written as one segment per partition. */
function makeSpill(layout: ReturnType<typeof planLayout>, input: number, partitions: number): Sink {
  const buffers = Array.from({ length: partitions }, () => new ByteBuilder(4 * 1024));
  let bytes = 0;
  let segment = 0;
  const written: number[] = [];
  const flush = async () => {
    if (bytes === 0) return;
    const name = layout.spillName(input, segment++);
    const parts = buffers.map((buffer, p) => ({ buffer, p })).filter(({ buffer }) => buffer.length > 0);
    await mapWithConcurrency(parts, 16, async ({ buffer, p }) => {
      await writeAtomic(joinUri(layout.spillDirUri(p), name), buffer.view(), NDJSON);
      written.push(p);
    });
    // What one flush held, spread over the partitions, is what each may keep for the next.
    for (const buffer of buffers) buffer.reset(Math.max(4 * 1024, Math.ceil((2 * SPILL_FLUSH_BYTES) / partitions)));
    bytes = 0;
  };
  return {
    async add(imageId, shardLine, line) {
      bytes += buffers[partitionOf(imageId, partitions)].append(`${input}\t${line}\t${imageId}\t${shardLine}\n`);
      if (bytes >= SPILL_FLUSH_BYTES) await flush();
    },
    async finish() {
      await flush();
      return written;
    },
    async abort() {},
  };
}

/** `input TAB line TAB imageId TAB shardLine`: the id without parsing the JSON. */
function parseSpillLine(text: string): { input: number; line: number; imageId: string; shardLine: string; readonly uri: string } {
  const a = text.indexOf('\t');
  const b = text.indexOf('\t', a + 1);
  const c = text.indexOf('\t', b + 1);
  const shardLine = text.slice(c + 1);
  return {
    input: Number(text.slice(0, a)),
    line: Number(text.slice(a + 1, b)),
    imageId: text.slice(b + 1, c),
    shardLine,
    get uri() {
      return (JSON.parse(shardLine) as { uri: string }).uri;
    },
  };
}

/** Shard files past the count, left by an interrupted earlier attempt: workers would never read them, but people would. */
async function removeStaleShards(shardsUri: string, shardCount: number): Promise<void> {
  const stale = (await listNames(shardsUri)).filter((name) => {
    const match = /^shard-(\d+)\.jsonl$/.exec(name);
    return match !== null && Number(match[1]) >= shardCount;
  });
  if (stale.length > 0) await removeFiles(stale.map((name) => joinUri(shardsUri, name)));
}

export const DEFAULT_FILTER: KeyFilter = { keyPrefix: '', suffixes: DEFAULT_IMAGE_SUFFIXES };
export { SHARD_MANIFEST_FILE };
