/**
 * What one backfill execution reads: the input files behind its source, found without reading
 * the catalog itself.
 *
 *  - `inventory`: an Amazon S3 Inventory report's `manifest.json`; its CSV (optionally gzip) data
 *    files list every key once, so no duplicate pass is needed. Keys there are URL-encoded the way
 *    HTML forms are (a space is `+`, a `+` is `%2B`; `%20` is accepted too).
 *  - `prefix`: every manifest file under a folder or S3 prefix (JSONL or plain text, `.gz` allowed).
 *  - `manifest`: one manifest file.
 *
 * Listing 500M keys with ListObjectsV2 is never the plan: an inventory's data files are listed in
 * its manifest.json.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';
import { exists, joinUri, readText, toLocalPath } from '../io/location';
import { getS3Client, isS3Uri, objectSize, parseS3Uri } from '../io/s3';

export type PlanSourceKind = 'inventory' | 'prefix' | 'manifest';

export interface PlanSource {
  kind: PlanSourceKind;
  uri: string;
}

export type InputFormat = 'inventory-csv' | 'manifest';

export interface InputFile {
  uri: string;
  format: InputFormat;
  /** Bytes as stored (compressed when gzip); 0 when unknown. */
  size: number;
}

/** What an inventory's keys must look like to be planned (keys outside are counted as filtered). */
export interface KeyFilter {
  /** Only keys starting with this (after URL decoding). @default "" */
  keyPrefix: string;
  /** Only keys ending with one of these, case-insensitive. */
  suffixes: string[];
}

export const DEFAULT_IMAGE_SUFFIXES = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic'];

export interface ResolvedInputs {
  files: InputFile[];
  /** Inventory only: the CSV column names, in order (the manifest's fileSchema). */
  inventoryColumns?: string[];
}

/** The S3 Inventory manifest.json fields Vista reads (the report has more). */
const inventoryManifestSchema = z.object({
  sourceBucket: z.string().min(1),
  destinationBucket: z.string().min(1),
  fileFormat: z.string(),
  fileSchema: z.string().min(1),
  files: z.array(z.object({ key: z.string().min(1), size: z.number().int().min(0).optional(), MD5checksum: z.string().optional() })).min(1),
});

export async function resolveInputs(source: PlanSource): Promise<ResolvedInputs> {
  switch (source.kind) {
    case 'inventory':
      return resolveInventory(source.uri);
    case 'prefix':
      return { files: await listManifestFiles(source.uri) };
    case 'manifest':
      return { files: [{ uri: source.uri, format: 'manifest', size: await sizeOf(source.uri) }] };
  }
}

async function resolveInventory(manifestUri: string): Promise<ResolvedInputs> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readText(manifestUri));
  } catch (err) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `cannot read the inventory manifest ${manifestUri}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = inventoryManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${manifestUri} is not an S3 Inventory manifest.json: ${issues}`);
  }
  const manifest = parsed.data;
  if (manifest.fileFormat.toUpperCase() !== 'CSV') {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `inventory ${manifestUri} is ${manifest.fileFormat}: only CSV inventories are supported (configure the report as CSV)`);
  }
  const columns = manifest.fileSchema.split(',').map((c) => c.trim());
  if (!columns.includes('Bucket') || !columns.includes('Key')) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `inventory ${manifestUri}: fileSchema has no Bucket and Key columns`);
  }
  const root = await dataRoot(manifestUri, manifest.destinationBucket, manifest.files[0].key);
  return {
    files: manifest.files.map((f) => ({ uri: joinUri(root, f.key), format: 'inventory-csv' as const, size: f.size ?? 0 })),
    inventoryColumns: columns,
  };
}

/**
 * Where the data files' keys start. In S3 that is the destination bucket, when manifest.json is
 * in it. A copy of a report (a local folder, or a prefix of another bucket such as the work
 * bucket's manifests/) keeps the bucket's layout: the nearest folder above manifest.json under
 * which the first data file's key exists.
 */
async function dataRoot(manifestUri: string, destinationBucket: string, firstKey: string): Promise<string> {
  const destination = destinationBucket.replace(/^arn:aws[a-z-]*:s3:::/, '');
  if (isS3Uri(manifestUri) && parseS3Uri(manifestUri).bucket === destination) return `s3://${destination}`;
  for (const folder of foldersAbove(manifestUri)) if (await exists(joinUri(folder, firstKey))) return folder;
  // Not a copy after all: the report's own bucket (whose grants decide whether it can be read).
  if (isS3Uri(manifestUri)) return `s3://${destination}`;
  throw new VistaError(SystemErrorCode.CONFIG_INVALID, `inventory ${manifestUri}: data file ${firstKey} not found in any folder above it`);
}

/** The folders (or S3 prefixes) holding a file, nearest first, up to the root (or the bucket). */
function foldersAbove(uri: string): string[] {
  if (isS3Uri(uri)) {
    const { bucket, key } = parseS3Uri(uri);
    const folders = key.split('/').slice(0, -1);
    return Array.from({ length: folders.length + 1 }, (_, i) => `s3://${[bucket, ...folders.slice(0, folders.length - i)].join('/')}`);
  }
  const folders: string[] = [];
  for (let dir = path.dirname(toLocalPath(uri)); ; dir = path.dirname(dir)) {
    folders.push(dir);
    if (path.dirname(dir) === dir) return folders;
  }
}

/** Files directly under the prefix, in name order, skipping hidden names (`_…`, `.…`). */
async function listManifestFiles(prefixUri: string): Promise<InputFile[]> {
  const files: InputFile[] = [];
  if (isS3Uri(prefixUri)) {
    const { bucket, key } = parseS3Uri(prefixUri.replace(/\/*$/, '/'));
    const client = getS3Client();
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, Delimiter: '/', ContinuationToken: token }));
      for (const obj of page.Contents ?? []) {
        const name = obj.Key?.slice(key.length) ?? '';
        if (isManifestName(name)) files.push({ uri: `s3://${bucket}/${obj.Key}`, format: 'manifest', size: obj.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } else {
    const dir = toLocalPath(prefixUri);
    let names: string[];
    try {
      names = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    } catch (err) {
      throw new VistaError(SystemErrorCode.CONFIG_INVALID, `cannot list manifest prefix ${prefixUri}: ${(err as Error).message}`, { cause: err });
    }
    for (const name of names.filter(isManifestName).sort()) {
      files.push({ uri: path.join(dir, name), format: 'manifest', size: (await fs.stat(path.join(dir, name))).size });
    }
  }
  files.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  if (files.length === 0) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `no manifest files under ${prefixUri}`);
  return files;
}

const isManifestName = (name: string) => name !== '' && !name.startsWith('_') && !name.startsWith('.') && !name.includes('.tmp-');

async function sizeOf(uri: string): Promise<number> {
  try {
    return isS3Uri(uri) ? await objectSize(uri) : (await fs.stat(toLocalPath(uri))).size;
  } catch (err) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `cannot open manifest ${uri}: ${(err as Error).message}`, { cause: err });
  }
}

/** An S3 Inventory key: form URL-encoded (`+` is a space). */
export function decodeInventoryKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** The fields of one CSV line (RFC 4180 quoting, as S3 Inventory writes: every field quoted). */
export function parseCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const end = line.indexOf('"', i);
        if (end < 0) throw new Error('unterminated quoted field');
        value += line.slice(i, end);
        if (line[end + 1] === '"') {
          value += '"';
          i = end + 2;
        } else {
          i = end + 1;
          break;
        }
      }
      fields.push(value);
      if (i < line.length && line[i] !== ',') throw new Error('text after a quoted field');
      i++;
    } else {
      const end = line.indexOf(',', i);
      const stop = end < 0 ? line.length : end;
      fields.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return fields;
}

export type InventoryRow = { kind: 'image'; uri: string } | { kind: 'filtered' } | { kind: 'invalid'; reason: string };

/** Reads one inventory CSV line: the image's s3:// URI, or why it is not planned. */
export function makeInventoryRowReader(columns: string[], filter: KeyFilter): (line: string) => InventoryRow {
  const at = (name: string) => columns.indexOf(name);
  const [bucketAt, keyAt, latestAt, deleteMarkerAt] = [at('Bucket'), at('Key'), at('IsLatest'), at('IsDeleteMarker')];
  const suffixes = filter.suffixes.map((s) => s.toLowerCase());
  return (line) => {
    let fields: string[];
    let key: string;
    try {
      fields = parseCsvLine(line);
      key = decodeInventoryKey(fields[keyAt] ?? '');
    } catch (err) {
      return { kind: 'invalid', reason: `not an inventory CSV line: ${(err as Error).message}` };
    }
    const bucket = fields[bucketAt];
    if (!bucket || !key) return { kind: 'invalid', reason: 'no bucket or key' };
    // Versioned inventories list old versions and delete markers: only current objects are images.
    if (deleteMarkerAt >= 0 && fields[deleteMarkerAt] === 'true') return { kind: 'filtered' };
    if (latestAt >= 0 && fields[latestAt] === 'false') return { kind: 'filtered' };
    if (!key.startsWith(filter.keyPrefix) || key.endsWith('/')) return { kind: 'filtered' };
    const lower = key.toLowerCase();
    if (suffixes.length > 0 && !suffixes.some((s) => lower.endsWith(s))) return { kind: 'filtered' };
    return { kind: 'image', uri: `s3://${bucket}/${key}` };
  };
}
