import { hash } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A stable image id for entries that don't bring one: the same URI always gives the same id,
 * so reruns, resumes and loads agree without coordination. 24 hex chars = 96 bits: collision
 * odds across 500M images are ~1e-12.
 *
 * A local file is one image however it is written (`/a/b.jpg`, `file:///a/b.jpg`, `/a/x/../b.jpg`,
 * `b.jpg` from /a): the id is derived from its absolute path (see `canonicalImageUri`). Remote URIs
 * (s3://, https://) are hashed exactly as given, so stores built before this rule keep their ids.
 */
export function imageIdFromUri(uri: string): string {
  // The one-shot hash: a Hash object per entry cost the reader (on the main thread) ~3× more.
  return hash('sha256', canonicalImageUri(uri), 'hex').slice(0, 24);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * The form of a URI that its id is derived from: a local path or `file://` URL becomes the absolute,
 * normalized path (relative paths resolve against the working directory, like the read that follows);
 * anything else is returned unchanged. An absolute, already normal path is its own canonical form,
 * so ids of such entries did not change when this rule came in.
 */
export function canonicalImageUri(uri: string): string {
  if (uri.startsWith('file:')) {
    try {
      return path.resolve(fileURLToPath(uri));
    } catch {
      return uri; // file://host/… is not a local file: leave it as given.
    }
  }
  if (SCHEME.test(uri) && !/^[a-z]:[\\/]/i.test(uri)) return uri;
  return path.resolve(uri);
}
