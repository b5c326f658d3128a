/**
 * Lance commits a table version by writing its manifest with a put-if-absent. AWS S3 honours that
 * (If-None-Match), so concurrent writers are safe there; some S3-compatible servers silently
 * ignore it (s3rver does), and two commits of one version then overwrite each other: lost rows.
 * Against such an endpoint, commits of one table are serialized within the process, which makes
 * the local stack (one process running every Lambda) safe. Across processes it cannot help:
 * point concurrent writers at real S3, MinIO with conditional writes, or a local folder.
 *
 * An endpoint that does enforce conditional writes (MinIO, the conditional proxy in front of
 * s3rver: lib/core/io/conditional-s3-proxy.ts) is declared with VISTA_S3_CONDITIONAL_WRITES=true,
 * and then no lock is taken; `false` forces the lock even on AWS. The lock is logged once per
 * store and process when it is in use.
 */
import { type Logger, makeLogger } from '../log';
import { isS3Uri } from '../io/s3';

/** Declares whether the S3 endpoint enforces `If-None-Match` / `If-Match` on PUT. */
export const CONDITIONAL_WRITES_ENV = 'VISTA_S3_CONDITIONAL_WRITES';

const tails = new Map<string, Promise<unknown>>();

/** Runs `op` after every earlier op of the same key has settled. */
export async function serialized<T>(key: string, op: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  const run = previous.then(op, op);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}

/** Whether the object store behind `dbUri` enforces conditional PUTs (local folders: atomic renames and links instead). */
export function hasConditionalWrites(dbUri: string, endpoint: string | undefined, declared: string | undefined = process.env[CONDITIONAL_WRITES_ENV]): boolean {
  if (!isS3Uri(dbUri)) return true;
  if (declared === 'true') return true;
  if (declared === 'false') return false;
  if (!endpoint) return true; // AWS S3 itself
  try {
    return new URL(endpoint).hostname.endsWith('amazonaws.com');
  } catch {
    return false;
  }
}

/** True for s3:// databases behind an endpoint that cannot arbitrate concurrent commits. */
export function needsProcessCommitLock(dbUri: string, endpoint: string | undefined, declared: string | undefined = process.env[CONDITIONAL_WRITES_ENV]): boolean {
  return isS3Uri(dbUri) && !hasConditionalWrites(dbUri, endpoint, declared);
}

const announced = new Set<string>();

/** Says, once per store and process, that commits are serialized in-process (and why). */
export function announceProcessCommitLock(dbUri: string, endpoint: string | undefined, logger: Logger = makeLogger()): void {
  if (announced.has(dbUri)) return;
  announced.add(dbUri);
  logger.warn('store commits serialized in this process: the S3 endpoint is not known to enforce conditional writes', {
    db: dbUri,
    endpoint,
    hint: `set ${CONDITIONAL_WRITES_ENV}=true if it does (MinIO, the conditional proxy); concurrent writers in other processes are not protected`,
  });
}
