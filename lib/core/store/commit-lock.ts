/**
 * Lance commits a table version by writing its manifest with a put-if-absent. AWS S3 honours that
 * (If-None-Match), so concurrent writers are safe there; some S3-compatible servers silently
 * ignore it (s3rver does), and two commits of one version then overwrite each other: lost rows.
 * Against such an endpoint, commits of one table are serialized within the process, which makes
 * the local stack (one process running every Lambda) safe. Across processes it cannot help:
 * point concurrent writers at real S3, MinIO with conditional writes, or a local folder.
 */
import { isS3Uri } from '../io/s3';

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

/** True for s3:// databases behind an endpoint override that is not AWS itself. */
export function needsProcessCommitLock(dbUri: string, endpoint: string | undefined): boolean {
  if (!isS3Uri(dbUri) || !endpoint) return false;
  try {
    return !new URL(endpoint).hostname.endsWith('amazonaws.com');
  } catch {
    return true;
  }
}
