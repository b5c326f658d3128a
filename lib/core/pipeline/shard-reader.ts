/**
 * Reader: streams a shard file (local or S3) line by line, never holding it in memory.
 * Accepts JSONL (`{"uri": …, "image_id"?, "hotel_id"?, "hotel_name"?, "city"?}`) or plain text
 * with one URI per line, mixed freely. A line that can't be used becomes an `InvalidEntry`, so it
 * is still accounted for in the shard's counts.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import { imageIdFromUri } from '../image-id';
import { readLines } from '../io/lines';
import { openReadStream } from '../io/location';
import type { ShardEntry } from '../types';

const jsonEntrySchema = z.object({
  uri: z.string().trim().min(1),
  // No control characters: ids travel in TAB- and newline-separated files (the planning spill), filenames and URLs.
  // eslint-disable-next-line no-control-regex
  image_id: z.string().trim().min(1).max(256).regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters (tabs, newlines, …)').optional(),
  hotel_id: z.union([z.string(), z.number()]).transform(String).optional(),
  hotel_name: z.string().optional(),
  city: z.string().optional(),
});

export interface InvalidEntry {
  index: number;
  invalid: true;
  line: string;
  reason: string;
}

export type ReadEntry = ShardEntry | InvalidEntry;

export function isInvalidEntry(entry: ReadEntry): entry is InvalidEntry {
  return (entry as InvalidEntry).invalid === true;
}

/** Parses one non-blank line. Pure, so the rules are unit-testable. */
export function parseShardLine(line: string, index: number): ReadEntry {
  const text = line.trim();
  if (text.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { index, invalid: true, line: text.slice(0, 200), reason: 'line is not valid JSON' };
    }
    const parsed = jsonEntrySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { index, invalid: true, line: text.slice(0, 200), reason: `${issue.path.join('.') || 'entry'}: ${issue.message}` };
    }
    const e = parsed.data;
    return {
      index,
      uri: e.uri,
      imageId: e.image_id ?? imageIdFromUri(e.uri),
      ...(e.hotel_id !== undefined ? { hotelId: e.hotel_id } : {}),
      ...(e.hotel_name !== undefined ? { hotelName: e.hotel_name } : {}),
      ...(e.city !== undefined ? { city: e.city } : {}),
    };
  }
  if (/\s/.test(text)) {
    return { index, invalid: true, line: text.slice(0, 200), reason: 'a plain-text line must be a single URI' };
  }
  return { index, uri: text, imageId: imageIdFromUri(text) };
}

/**
 * Entries of a shard in file order. Blank lines are skipped and do not take an index, so an
 * index always names an image; the index is what parts and resumes are keyed on.
 */
export async function* readShard(shardUri: string): AsyncGenerator<ReadEntry> {
  let stream;
  try {
    stream = await openReadStream(shardUri);
  } catch (err) {
    throw new VistaError(SystemErrorCode.SHARD_NOT_FOUND, `cannot open shard ${shardUri}: ${(err as Error).message}`, { cause: err });
  }
  const lines = readLines(stream, {
    gzip: shardUri.endsWith('.gz'),
    invalidGzip: (err) => new VistaError(SystemErrorCode.SHARD_INVALID, `shard ${shardUri} is not valid gzip: ${err.message}`, { cause: err }),
  });
  let index = 0;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    yield parseShardLine(line, index++);
  }
}

/** Number of entries in a shard (one streaming pass), for progress totals. */
export async function countShardEntries(shardUri: string): Promise<number> {
  let count = 0;
  for await (const _ of readShard(shardUri)) count++;
  return count;
}
