import { createHash } from 'node:crypto';

/**
 * A stable image id for entries that don't bring one: the same URI always gives the same id,
 * so reruns, resumes and loads agree without coordination. 24 hex chars = 96 bits: collision
 * odds across 500M images are ~1e-12.
 */
export function imageIdFromUri(uri: string): string {
  return createHash('sha256').update(uri).digest('hex').slice(0, 24);
}
