/**
 * Finds a model's files: a local folder is used in place; an s3:// prefix is downloaded once into
 * a local cache folder (ONNX Runtime needs files on disk) and reused while its completion marker
 * is there. Models are treated as immutable: publish a changed model under a new prefix.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SystemErrorCode, VistaError } from '../errors';
import { exists, joinUri, openReadStream, toLocalPath } from '../io/location';
import { isS3Uri, parseS3Uri } from '../io/s3';

export const MODEL_FILES = {
  config: 'config.json',
  preprocessor: 'preprocessor_config.json',
  tokenizer: 'tokenizer.json',
  vision: 'onnx/vision_model.onnx',
  text: 'onnx/text_model.onnx',
} as const;
const REQUIRED_FILES = Object.values(MODEL_FILES);
const OPTIONAL_FILES = ['tokenizer_config.json'];
const COMPLETE_MARKER = '.vista-complete.json';

export const DEFAULT_MODEL_CACHE_DIR = path.join('.vista', 'models');

/** The folder name of a model location: `/m/clip-b32` and `s3://b/models/clip-b32/` → `clip-b32`. */
export function modelName(location: string): string {
  if (isS3Uri(location)) {
    const { bucket, key } = parseS3Uri(location);
    const segments = key.split('/').filter((s) => s !== '');
    return segments.length ? segments[segments.length - 1] : bucket;
  }
  return path.basename(toLocalPath(location));
}

/** A local folder holding every required model file. */
export async function resolveModelFolder(location: string, cacheDir = DEFAULT_MODEL_CACHE_DIR): Promise<string> {
  if (!isS3Uri(location)) {
    const dir = toLocalPath(location);
    await assertModelFiles(dir, location);
    return dir;
  }
  const prefix = location.replace(/\/+$/, '');
  const dir = path.resolve(cacheDir, createHash('sha256').update(prefix).digest('hex').slice(0, 16));
  if (await exists(path.join(dir, COMPLETE_MARKER))) return dir;
  await assertModelFiles(prefix, location);
  await downloadModel(prefix, dir);
  return dir;
}

async function assertModelFiles(base: string, location: string): Promise<void> {
  const present = await Promise.all(REQUIRED_FILES.map((file) => exists(joinUri(base, file))));
  const missing = REQUIRED_FILES.filter((_, i) => !present[i]);
  if (missing.length === 0) return;
  if (missing.length === REQUIRED_FILES.length) {
    throw new VistaError(SystemErrorCode.MODEL_NOT_FOUND, `no model at ${location}: none of ${REQUIRED_FILES.join(', ')} found`, {
      details: { location },
    });
  }
  throw new VistaError(SystemErrorCode.MODEL_INVALID, `model at ${location} is incomplete: missing ${missing.join(', ')}`, {
    details: { location, missing },
  });
}

async function downloadModel(prefix: string, dir: string): Promise<void> {
  const optional = await Promise.all(OPTIONAL_FILES.map(async (file) => ((await exists(joinUri(prefix, file))) ? [file] : [])));
  const files = [...REQUIRED_FILES, ...optional.flat()];
  for (const file of files) {
    const target = path.join(dir, file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    await pipeline(await openReadStream(joinUri(prefix, file)), createWriteStream(tmp));
    await fs.rename(tmp, target);
  }
  const marker = { source: prefix, files, downloaded_at: new Date().toISOString() };
  await fs.writeFile(path.join(dir, COMPLETE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}
