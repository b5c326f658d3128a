/**
 * A place to read and write files that is either a local folder or an S3 prefix, so that every
 * stage runs the same code on a laptop and in AWS. Writes are atomic in both: a local write goes
 * to a temporary name and is renamed; an S3 PUT is atomic by itself. Readers therefore never see
 * a half-written file, which is what lets completion markers mean "done".
 */
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  deleteObjects,
  getObjectBytes,
  getObjectStream,
  isS3Uri,
  listObjectSizes,
  objectExists,
  putObject,
} from './s3';

/** `file:///a/b` → `/a/b`; relative paths resolved against the working directory. */
export function toLocalPath(uri: string): string {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  return path.resolve(uri);
}

/** Joins path segments onto a local path or an s3:// prefix. */
export function joinUri(base: string, ...parts: string[]): string {
  if (isS3Uri(base)) {
    const trimmed = base.replace(/\/+$/, '');
    return [trimmed, ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter((p) => p !== '').join('/');
  }
  return path.join(toLocalPath(base), ...parts);
}

export async function readBytes(uri: string): Promise<Buffer> {
  return isS3Uri(uri) ? getObjectBytes(uri) : fs.readFile(toLocalPath(uri));
}

export async function readText(uri: string): Promise<string> {
  return (await readBytes(uri)).toString('utf8');
}

export async function readJson<T = unknown>(uri: string): Promise<T> {
  return JSON.parse(await readText(uri)) as T;
}

export async function openReadStream(uri: string): Promise<Readable> {
  if (isS3Uri(uri)) return getObjectStream(uri);
  const file = toLocalPath(uri);
  await fs.access(file);
  return createReadStream(file);
}

export async function exists(uri: string): Promise<boolean> {
  if (isS3Uri(uri)) return objectExists(uri);
  try {
    await fs.access(toLocalPath(uri));
    return true;
  } catch {
    return false;
  }
}

let tmpCounter = 0;

/** The temporary name a local write goes to before its rename (`*.tmp-PID-N`: listings skip it, resumes remove it). */
export function localTempPath(file: string): string {
  return `${file}.tmp-${process.pid}-${++tmpCounter}`;
}

/** Writes the whole file or nothing. */
export async function writeAtomic(uri: string, body: Buffer | string, contentType?: string): Promise<void> {
  if (isS3Uri(uri)) return putObject(uri, body, undefined, contentType);
  const file = toLocalPath(uri);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = localTempPath(file);
  await fs.writeFile(tmp, body);
  await fs.rename(tmp, file);
}

export async function writeJsonAtomic(uri: string, value: unknown): Promise<void> {
  await writeAtomic(uri, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
}

/**
 * Names (not full URIs) of the files directly under a folder or prefix, sorted. Missing → [].
 * `limit` bounds an S3 listing to its first keys (for a flat prefix: the first names).
 */
export async function listNames(dirUri: string, limit = Infinity): Promise<string[]> {
  if (isS3Uri(dirUri)) return (await listFiles(dirUri, limit)).map((f) => f.name);
  return localFileNames(toLocalPath(dirUri), limit);
}

async function localFileNames(dir: string, limit: number): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && !e.name.includes('.tmp-')).map((e) => e.name).sort().slice(0, limit);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** As `listNames`, with each file's size in bytes. */
export async function listFiles(dirUri: string, limit = Infinity): Promise<{ name: string; size: number }[]> {
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (isS3Uri(dirUri)) {
    const prefix = dirUri.replace(/\/+$/, '') + '/';
    const objects = await listObjectSizes(prefix, undefined, limit);
    return objects
      .map((o) => ({ name: o.uri.slice(prefix.length), size: o.size }))
      .filter(({ name }) => name !== '' && !name.includes('/'))
      .sort(byName);
  }
  const dir = toLocalPath(dirUri);
  const files = [];
  for (const name of await localFileNames(dir, limit)) {
    try {
      files.push({ name, size: (await fs.stat(path.join(dir, name))).size });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // removed since the listing
    }
  }
  return files;
}

export async function removeFiles(uris: string[]): Promise<void> {
  const s3 = uris.filter(isS3Uri);
  if (s3.length) await deleteObjects(s3);
  await Promise.all(uris.filter((u) => !isS3Uri(u)).map((u) => fs.rm(toLocalPath(u), { force: true })));
}

const TEMP_NAME = /\.tmp-(\d+)(?:-\d+)?$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (`name.tmp-PID-N`) that writers killed mid-write left in a local
 * folder, when their process is gone (a live one may be writing: two runs can share a folder).
 * S3 writes leave none. Returns the paths removed.
 */
export async function removeStaleTempFiles(dirUri: string, options: { recursive?: boolean } = {}): Promise<string[]> {
  if (isS3Uri(dirUri)) return [];
  const dir = toLocalPath(dirUri);
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory() && options.recursive) removed.push(...(await removeStaleTempFiles(file, options)));
    const match = TEMP_NAME.exec(entry.name);
    if (entry.isFile() && match && !processAlive(Number(match[1]))) {
      await fs.rm(file, { force: true });
      removed.push(file);
    }
  }
  return removed;
}
