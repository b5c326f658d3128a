/**
 * A small JSON object beside the store that is only ever changed by compare-and-swap: created if
 * absent, replaced only if unchanged since it was read. The writer lease (writer-lease.ts) and the
 * store manifest (store-manifest.ts) are built on it. One interface, two backings:
 *
 *   s3://   one object; create = PUT If-None-Match: *, replace = PUT If-Match: <ETag> (AWS S3
 *           enforces both; 412/409/404 mean "someone else changed it"). Behind an endpoint that
 *           ignores conditions (s3rver) the check is emulated, atomically within this process only
 *           (the same rule as the commit lock: commit-lock.ts).
 *   local   a folder of generations g<N>.json: create = link g1 (fails if it exists), replace of
 *           version N = link g<N+1>. link(2) is atomic and never overwrites, so of two writers of
 *           one generation exactly one wins; the current object is the highest generation. Files
 *           are written under a temporary name first, so a reader never sees half an object.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { toLocalPath } from '../io/location';
import { getObjectVersioned, getS3Client, isS3Uri, parseS3Uri, s3Endpoint } from '../io/s3';
import { needsProcessCommitLock, serialized } from './commit-lock';

export interface Versioned<T> {
  value: T;
  /** Opaque: an ETag on S3, a generation number locally. */
  version: string;
}

export interface ConditionalObject<T> {
  readonly uri: string;
  read(): Promise<Versioned<T> | undefined>;
  /** The new version, or undefined when the object already exists. */
  create(value: T): Promise<string | undefined>;
  /** The new version, or undefined when the object is no longer at `version`. */
  replace(value: T, version: string): Promise<string | undefined>;
}

export function conditionalObject<T>(uri: string): ConditionalObject<T> {
  return isS3Uri(uri) ? s3Object<T>(uri) : localObject<T>(uri);
}

// ---- S3 ----

function isConditionFailure(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // 412: the condition failed; 409: a concurrent conditional write won; 404: If-Match on a deleted key.
  return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.name === 'NoSuchKey' || status === 412 || status === 409 || status === 404;
}

function s3Object<T>(uri: string): ConditionalObject<T> {
  const { bucket, key } = parseS3Uri(uri);
  const read = async (): Promise<Versioned<T> | undefined> => {
    try {
      // A body cut off mid-way is read again: the SDK itself retries only up to the headers.
      const answer = await getObjectVersioned(uri);
      return { value: JSON.parse(answer.bytes.toString('utf8')) as T, version: String(answer.etag) };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  };
  const put = async (value: T, condition: { IfNoneMatch: '*' } | { IfMatch: string }): Promise<string | undefined> => {
    try {
      const answer = await getS3Client().send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json', ...condition }),
      );
      return String(answer.ETag);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  };
  // An endpoint that ignores conditions: check, then write, one at a time in this process.
  const emulated = () => needsProcessCommitLock(uri, s3Endpoint());
  return {
    uri,
    read,
    create: (value) =>
      emulated()
        ? serialized(`cas:${uri}`, async () => ((await read()) ? undefined : put(value, { IfNoneMatch: '*' })))
        : put(value, { IfNoneMatch: '*' }),
    replace: (value, version) =>
      emulated()
        ? serialized(`cas:${uri}`, async () => ((await read())?.version === version ? put(value, { IfMatch: version }) : undefined))
        : put(value, { IfMatch: version }),
  };
}

// ---- local folder ----

const GENERATION = /^g(\d{12})\.json$/;
/** Generations kept behind the current one (a reader between listing and reading may still want them). */
const KEEP_GENERATIONS = 8;

const generationName = (n: number) => `g${String(n).padStart(12, '0')}.json`;

function localObject<T>(uri: string): ConditionalObject<T> {
  const dir = toLocalPath(uri);
  const generations = async (): Promise<number[]> => {
    try {
      return (await fs.readdir(dir)).flatMap((name) => {
        const m = GENERATION.exec(name);
        return m ? [Number(m[1])] : [];
      }).sort((a, b) => a - b);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };
  const read = async (): Promise<Versioned<T> | undefined> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const all = await generations();
      const current = all.at(-1);
      if (current === undefined) return undefined;
      try {
        return { value: JSON.parse(await fs.readFile(path.join(dir, generationName(current)), 'utf8')) as T, version: String(current) };
      } catch (err) {
        // Pruned between listing and reading: a newer generation exists, list again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new Error(`${uri}: generations keep changing under the reader`);
  };
  const write = async (value: T, generation: number): Promise<string | undefined> => {
    await fs.mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    await fs.writeFile(tmp, JSON.stringify(value));
    try {
      await fs.link(tmp, path.join(dir, generationName(generation)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    const all = await generations();
    // A writer that stalled past pruning could re-create an old generation: it is not the current one.
    if (all.at(-1) !== generation) return undefined;
    await Promise.all(all.filter((g) => g < generation - KEEP_GENERATIONS).map((g) => fs.rm(path.join(dir, generationName(g)), { force: true })));
    return String(generation);
  };
  return {
    uri,
    read,
    create: async (value) => ((await generations()).length > 0 ? undefined : write(value, 1)),
    replace: (value, version) => write(value, Number(version) + 1),
  };
}
