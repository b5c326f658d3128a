/**
 * Writes an S3 Inventory report the way Amazon S3 lays one out, for tests and the planning
 * benchmark: gzip CSV data files under `<prefix>/<source bucket>/<config>/data/`, and
 * `<prefix>/<source bucket>/<config>/<timestamp>/manifest.json` naming them (the real manifest
 * fields: sourceBucket, destinationBucket ARN, version, creationTimestamp, fileFormat,
 * fileSchema, files[{key, size, MD5checksum}]). Keys are URL-encoded as S3 Inventory does (form
 * encoding: a space is `+`). Streams its output: 20M keys never sit in memory.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { joinUri, writeAtomic, writeJsonAtomic } from '../../io/location';
import { isS3Uri } from '../../io/s3';

export const INVENTORY_SCHEMA = 'Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus';

export interface InventoryOptions {
  /** Folder or s3:// bucket URI that plays the destination bucket. */
  destinationUri: string;
  sourceBucket: string;
  /** The keys, file by file (a generator for large reports). */
  files: Iterable<Iterable<string>> | AsyncIterable<Iterable<string>>;
  /** @default "vista-inventory" */
  prefix?: string;
}

export interface WrittenInventory {
  manifestUri: string;
  dataFiles: number;
  keys: number;
}

/** S3 Inventory's key encoding (application/x-www-form-urlencoded). */
export function encodeInventoryKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function inventoryCsvLine(bucket: string, key: string, size = 123_456): string {
  return [bucket, encodeInventoryKey(key), String(size), '2026-11-30T00:00:00.000Z', 'd41d8cd98f00b204e9800998ecf8427e', 'STANDARD', 'false', '', 'SSE-S3']
    .map((f) => `"${f}"`)
    .join(',');
}

export async function writeInventory(options: InventoryOptions): Promise<WrittenInventory> {
  const prefix = options.prefix ?? 'vista-inventory';
  const base = `${prefix}/${options.sourceBucket}/all-objects`;
  const files: { key: string; size: number; MD5checksum: string }[] = [];
  let keys = 0;
  let n = 0;
  for await (const fileKeys of options.files as AsyncIterable<Iterable<string>>) {
    const key = `${base}/data/${String(n++).padStart(4, '0')}-${createHash('sha1').update(`${base}/${n}`).digest('hex').slice(0, 12)}.csv.gz`;
    const target = joinUri(options.destinationUri, key);
    const { size, md5, count } = await writeGzipCsv(target, options.sourceBucket, fileKeys);
    keys += count;
    files.push({ key, size, MD5checksum: md5 });
  }
  const manifestUri = joinUri(options.destinationUri, base, '2026-11-30T01-00Z', 'manifest.json');
  await writeJsonAtomic(manifestUri, {
    sourceBucket: options.sourceBucket,
    destinationBucket: `arn:aws:s3:::${isS3Uri(options.destinationUri) ? options.destinationUri.slice(5).split('/')[0] : path.basename(options.destinationUri)}`,
    version: '2016-11-30',
    creationTimestamp: '1796000400000',
    fileFormat: 'CSV',
    fileSchema: INVENTORY_SCHEMA,
    files,
  });
  return { manifestUri, dataFiles: files.length, keys };
}

async function writeGzipCsv(target: string, bucket: string, keys: Iterable<string>): Promise<{ size: number; md5: string; count: number }> {
  const gzip = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  const local = !isS3Uri(target);
  let out: ReturnType<typeof createWriteStream> | undefined;
  if (local) {
    await fs.mkdir(path.dirname(target), { recursive: true });
    out = createWriteStream(target);
    gzip.pipe(out);
  } else {
    gzip.on('data', (c: Buffer) => chunks.push(c));
  }
  const hash = createHash('md5');
  let size = 0;
  gzip.on('data', (c: Buffer) => {
    hash.update(c);
    size += c.length;
  });
  let count = 0;
  let batch: string[] = [];
  for (const key of keys) {
    batch.push(inventoryCsvLine(bucket, key));
    count++;
    if (batch.length === 10_000) {
      if (!gzip.write(`${batch.join('\n')}\n`)) await once(gzip, 'drain');
      batch = [];
    }
  }
  if (batch.length > 0) gzip.write(`${batch.join('\n')}\n`);
  gzip.end();
  if (out) await once(out, 'finish');
  else {
    await once(gzip, 'end');
    await writeAtomic(target, Buffer.concat(chunks), 'application/gzip');
  }
  return { size, md5: hash.digest('hex'), count };
}
