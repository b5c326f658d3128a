/**
 * Writer: one folder per shard (local or S3).
 *   part-NNNNN.arrow  succeeded rows of part N
 *   part-NNNNN.json   part N's marker, written right after its arrow file: counts + failures
 *   errors.jsonl      all failures of the shard (assembled from the markers at the end)
 *   summary.json      written last: its presence means the shard is complete
 * Every file is written atomically, so a crash leaves whole parts or no part; a rerun redoes
 * only parts without a marker and overwrites any orphan arrow file of the same name.
 */
import { ImageErrorCode, SystemErrorCode, VistaError } from '../errors';
import { joinUri, listNames, readJson, exists, removeFiles, removeStaleTempFiles, writeAtomic, writeJsonAtomic } from '../io/location';
import type { EnrichedImage, ImageFailure } from '../types';
import { rowsToArrowFile } from './arrow-rows';

export interface FailureRecord {
  image_id: string;
  source_uri: string;
  error_code: ImageErrorCode;
  message: string;
}

/** What a part was made with: a resumed run must not mix parts made differently. */
export interface PartStamp {
  part_size: number;
  model_id: string;
  taxonomy_id: string;
}

export interface PartMarker extends PartStamp {
  part: number;
  first_index: number;
  input: number;
  succeeded: number;
  failed: number;
  errors: FailureRecord[];
}

export interface ShardSummary {
  shard: string;
  input: number;
  succeeded: number;
  failed: number;
  failed_by_code: Record<string, number>;
  parts: { name: string; rows: number }[];
  model_id: string;
  taxonomy_id: string;
  embedding_dim: number;
  started_at: string;
  finished_at: string;
  /** Parts found complete from an earlier run and skipped by this one. */
  resumed_parts: number;
  /** This run's end-of-shard retry: images tried once more after a transient failure, and how many of them were fetched that time. */
  end_retry?: { retried: number; recovered: number };
  timings_ms: Record<string, number>;
  images_per_second: number;
}

export const SUMMARY_FILE = 'summary.json';
export const ERRORS_FILE = 'errors.jsonl';

export function partArrowName(part: number): string {
  return `part-${String(part).padStart(5, '0')}.arrow`;
}

function partMarkerName(part: number): string {
  return `part-${String(part).padStart(5, '0')}.json`;
}

export function toFailureRecord(f: ImageFailure): FailureRecord {
  return { image_id: f.imageId, source_uri: f.sourceUri, error_code: f.errorCode, message: f.message };
}

export interface ShardOutput {
  readonly uri: string;
  isComplete(): Promise<boolean>;
  readSummary(): Promise<ShardSummary>;
  /** Markers of parts finished by any earlier run, keyed by part number. */
  completedParts(): Promise<Map<number, PartMarker>>;
  writePart(part: number, firstIndex: number, rows: EnrichedImage[], failures: ImageFailure[], stamp: PartStamp): Promise<PartMarker>;
  /** Writes errors.jsonl from all markers, then summary.json. */
  finish(markers: PartMarker[], summary: Omit<ShardSummary, 'input' | 'succeeded' | 'failed' | 'failed_by_code' | 'parts'>): Promise<ShardSummary>;
}

export function makeShardOutput(outUri: string, embedDim: number): ShardOutput {
  const at = (name: string) => joinUri(outUri, name);
  return {
    uri: outUri,
    isComplete: () => exists(at(SUMMARY_FILE)),
    readSummary: () => readJson<ShardSummary>(at(SUMMARY_FILE)),

    async completedParts() {
      // A resumed run: temporary files of a writer killed mid-write go first.
      await removeStaleTempFiles(outUri);
      const names = (await listNames(outUri)).filter((n) => /^part-\d{5,}\.json$/.test(n));
      const markers = await Promise.all(
        names.map((n) =>
          readJson<PartMarker>(at(n)).catch((err: unknown) => {
            throw new VistaError(SystemErrorCode.OUTPUT_INVALID, `${at(n)} is not a readable part marker (${(err as Error).message}); delete it to redo the part`, { cause: err });
          }),
        ),
      );
      return new Map(markers.map((m) => [m.part, m]));
    },

    async writePart(part, firstIndex, rows, failures, stamp) {
      if (rows.length > 0) await writeAtomic(at(partArrowName(part)), Buffer.from(rowsToArrowFile(rows, embedDim)));
      // An earlier run may have written this part's rows and crashed before its marker.
      else await removeFiles([at(partArrowName(part))]);
      const marker: PartMarker = {
        ...stamp,
        part,
        first_index: firstIndex,
        input: rows.length + failures.length,
        succeeded: rows.length,
        failed: failures.length,
        errors: failures.map(toFailureRecord),
      };
      await writeJsonAtomic(at(partMarkerName(part)), marker);
      return marker;
    },

    async finish(markers, rest) {
      const sorted = [...markers].sort((a, b) => a.part - b.part);
      const errors = sorted.flatMap((m) => m.errors);
      const failedByCode: Record<string, number> = {};
      for (const e of errors) failedByCode[e.error_code] = (failedByCode[e.error_code] ?? 0) + 1;
      await writeAtomic(at(ERRORS_FILE), errors.map((e) => JSON.stringify(e)).join('\n') + (errors.length ? '\n' : ''));
      const summary: ShardSummary = {
        ...rest,
        input: sorted.reduce((n, m) => n + m.input, 0),
        succeeded: sorted.reduce((n, m) => n + m.succeeded, 0),
        failed: errors.length,
        failed_by_code: failedByCode,
        parts: sorted.filter((m) => m.succeeded > 0).map((m) => ({ name: partArrowName(m.part), rows: m.succeeded })),
      };
      await writeJsonAtomic(at(SUMMARY_FILE), summary);
      return summary;
    },
  };
}
