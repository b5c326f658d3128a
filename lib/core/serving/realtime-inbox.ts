/**
 * The real-time path's hand-off to the store. Next to the latest-outcome view
 * (`realtime/results/<image_id>.json`, overwritten by a re-upload, what callers read), every
 * enrichment also drops one immutable record into the inbox (`realtime/inbox/`). The ingest
 * (realtime-ingest.ts) turns inbox records into LanceDB rows and then deletes them: records never
 * change once written, so deleting what was ingested can never lose a newer outcome.
 *
 * Names sort by the time they were written, so records of one image are applied in order.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { joinUri, writeJsonAtomic } from '../io/location';
import { type EnrichErrorBody, enrichResultSchema } from './protocol';

/** The fields of the worker's errors.jsonl records; the code may also be a request's (REQUEST_INVALID) or `HTTP_<status>`. */
const realtimeFailureSchema = z.object({ image_id: z.string().min(1), source_uri: z.string(), error_code: z.string(), message: z.string(), at: z.string() });
export type RealtimeFailure = z.output<typeof realtimeFailureSchema>;

/** The failure record of an endpoint's error answer (status < 500) for one image. */
export function failureFromAnswer(imageId: string, sourceUri: string, status: number, body: unknown): RealtimeFailure {
  const { error } = (body ?? {}) as Partial<EnrichErrorBody>;
  return { image_id: imageId, source_uri: sourceUri, error_code: error?.code ?? `HTTP_${status}`, message: error?.message ?? '', at: new Date().toISOString() };
}

/** An inbox record as written; checked when read back, so that no record can break a batch. */
export const inboxRecordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('result'), result: enrichResultSchema }),
  z.object({ kind: z.literal('error'), error: realtimeFailureSchema }),
]);
export type InboxRecord = z.output<typeof inboxRecordSchema>;

export const INBOX_SUFFIX = '.json';

/** `yyyymmddThhmmssSSS` in UTC: fixed width, so stamps (and names that start with one) sort by time. */
export function inboxStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace('.', '').replace('Z', '');
}

/** `<stamp>-<8 hex>`: unique, and sorting by time (the ingest's batch ids). */
export function stampedId(at: Date = new Date()): string {
  return `${inboxStamp(at)}-${randomBytes(4).toString('hex')}`;
}

/**
 * `<stamp>-<8 hex>-<image_id, URI-encoded>.json`: sortable by time, unique per write, one flat
 * name whatever the id holds ('/' included).
 */
export function inboxRecordName(imageId: string, at: Date = new Date()): string {
  return `${stampedId(at)}-${encodeURIComponent(imageId)}${INBOX_SUFFIX}`;
}

/** When a record was written, from its name; undefined for a name that is not a record's. */
export function stampOfInboxName(name: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})-/.exec(name);
  if (!m) return undefined;
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** The image id a record name carries (what `inboxRecordName` encoded), or undefined. */
export function imageIdOfInboxName(name: string): string | undefined {
  const match = /^\d{8}T\d{9}-[0-9a-f]{8}-(.+)\.json$/.exec(name);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

export async function writeInboxRecord(inboxUri: string, imageId: string, record: InboxRecord, at: Date = new Date()): Promise<string> {
  const uri = joinUri(inboxUri, inboxRecordName(imageId, at));
  await writeJsonAtomic(uri, record);
  return uri;
}
