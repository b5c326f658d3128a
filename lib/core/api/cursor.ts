/**
 * Opaque pagination cursors: the offset of the next page, bound to the query it came from so that
 * a cursor replayed with another query is refused rather than silently paging something else.
 */
import { createHash } from 'node:crypto';
import { SystemErrorCode, VistaError } from '../errors';

export function queryKey(query: unknown): string {
  return createHash('sha256').update(JSON.stringify(query)).digest('base64url').slice(0, 12);
}

export function encodeCursor(offset: number, key: string): string {
  return Buffer.from(JSON.stringify({ o: offset, q: key })).toString('base64url');
}

/** The offset a cursor points at; 0 without one. */
export function decodeCursor(cursor: string | undefined, key: string): number {
  if (cursor === undefined) return 0;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown; q?: unknown };
    if (Number.isInteger(value.o) && (value.o as number) >= 0 && value.q === key) return value.o as number;
  } catch {
    // Falls through to the error below.
  }
  throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'invalid cursor: pass next_cursor from an answer to the same query');
}
