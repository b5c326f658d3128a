/**
 * S3 access shared by every stage. One client per process, keep-alive sockets, retries with
 * backoff on throttling, 5xx and dropped connections (s3-retry.ts: why not the SDK's adaptive or
 * standard modes), and an endpoint override so that everything runs against a local
 * S3-compatible server (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  HeadObjectCommand,
  DeleteObjectsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { backoffDelayMs, isTransientNetworkError } from './retry';
import { S3RetryStrategy } from './s3-retry';

export interface S3Location {
  bucket: string;
  key: string;
}

export function isS3Uri(uri: string): boolean {
  return uri.startsWith('s3://');
}

export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`not an s3:// URI: ${uri}`);
  return { bucket: match[1], key: match[2] };
}

export function s3Endpoint(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
}

export interface S3ClientOptions {
  /** Sockets kept open per host. @default 64 */
  maxSockets?: number;
  /** Attempts per request, first one included (throttled requests get at least 10). @default 10 */
  maxAttempts?: number;
  /** Socket and connection timeout in ms. @default 30000 */
  requestTimeoutMs?: number;
}

const clients = new Map<string, S3Client>();

/** The process-wide client for these options (clients are expensive: sockets, credential chains). */
export function getS3Client(options: S3ClientOptions = {}): S3Client {
  const endpoint = s3Endpoint();
  const cacheKey = JSON.stringify({ endpoint, ...options });
  let client = clients.get(cacheKey);
  if (!client) {
    const maxSockets = options.maxSockets ?? 64;
    const timeout = options.requestTimeoutMs ?? 30_000;
    client = new S3Client({
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
      retryStrategy: new S3RetryStrategy({ maxAttempts: options.maxAttempts ?? 10 }),
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        connectionTimeout: timeout,
        requestTimeout: timeout,
      }),
    });
    clients.set(cacheKey, client);
  }
  return client;
}

/** Drops cached clients (tests switch endpoints between suites). */
export function resetS3Clients(): void {
  for (const client of clients.values()) client.destroy();
  clients.clear();
}

/** Body reads cut off mid-way (a dropped connection) are retried too: the SDK retries only up to the headers. */
const BODY_ATTEMPTS = 5;

export async function getObjectBytes(uri: string, client = getS3Client()): Promise<Buffer> {
  return (await getObjectVersioned(uri, client)).bytes;
}

/** The whole object and the ETag of the version read (the body retried like getObjectBytes). */
export async function getObjectVersioned(uri: string, client = getS3Client()): Promise<{ bytes: Buffer; etag: string | undefined }> {
  const { bucket, key } = parseS3Uri(uri);
  for (let attempt = 0; ; attempt++) {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    try {
      return { bytes: Buffer.from(await out.Body!.transformToByteArray()), etag: out.ETag };
    } catch (err) {
      if (!isTransientNetworkError(err) || attempt + 1 >= BODY_ATTEMPTS) throw err;
      await sleep(backoffDelayMs(attempt, { retries: 0, baseDelayMs: 100, maxDelayMs: 2000 }));
    }
  }
}

/**
 * The object as a stream that survives dropped connections: a body cut off mid-way is resumed
 * from the byte it stopped at (a Range GET pinned to the first response's ETag, so a changed
 * object fails instead of splicing two versions), up to BODY_ATTEMPTS times.
 */
export async function getObjectStream(uri: string, client = getS3Client()): Promise<Readable> {
  const { bucket, key } = parseS3Uri(uri);
  const first = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const length = first.ContentLength;
  const out = new PassThrough();
  let offset = 0;
  let resumes = 0;
  let current = first.Body as Readable;
  const pump = (body: Readable): void => {
    current = body;
    body.on('data', (chunk: Buffer) => {
      offset += chunk.length;
      if (!out.write(chunk)) {
        body.pause();
        out.once('drain', () => body.resume());
      }
    });
    body.once('end', () => out.end());
    body.once('error', (err) => void resume(err));
  };
  const resume = async (err: Error): Promise<void> => {
    if (out.destroyed) return;
    if (length !== undefined && offset >= length) return void out.end();
    if (!isTransientNetworkError(err) || ++resumes >= BODY_ATTEMPTS) return void out.destroy(err);
    await sleep(backoffDelayMs(resumes, { retries: 0, baseDelayMs: 100, maxDelayMs: 2000 }));
    try {
      const next = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-`, IfMatch: first.ETag }));
      pump(next.Body as Readable);
    } catch (e) {
      out.destroy(e as Error);
    }
  };
  out.once('close', () => current.destroy());
  pump(current);
  return out;
}

/** A single PUT is atomic: readers see the whole object or none of it. */
export async function putObject(uri: string, body: Buffer | string, client = getS3Client(), contentType?: string): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  // Explicit: the SDK sets no length for an empty body (an errors.jsonl with no errors) and then warns.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ContentLength: Buffer.byteLength(body) }));
}

export async function objectExists(uri: string, client = getS3Client()): Promise<boolean> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (err as Error).name === 'NotFound' || (err as Error).name === 'NoSuchKey') return false;
    throw err;
  }
}

/** Every object under the prefix (paginated) as full s3:// URIs, in key order; only the first `limit` when given. */
export async function listObjects(prefixUri: string, client = getS3Client(), limit = Infinity): Promise<string[]> {
  return (await listObjectSizes(prefixUri, client, limit)).map((o) => o.uri);
}

/** As `listObjects`, with each object's size in bytes. */
export async function listObjectSizes(prefixUri: string, client = getS3Client(), limit = Infinity): Promise<{ uri: string; size: number }[]> {
  const { bucket, key } = parseS3Uri(prefixUri);
  const objects: { uri: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const maxKeys = Number.isFinite(limit) ? Math.min(1000, limit - objects.length) : undefined;
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token, MaxKeys: maxKeys }));
    for (const obj of page.Contents ?? []) if (obj.Key) objects.push({ uri: `s3://${bucket}/${obj.Key}`, size: obj.Size ?? 0 });
    token = page.IsTruncated && objects.length < limit ? page.NextContinuationToken : undefined;
  } while (token);
  return objects.slice(0, limit);
}

/** An object's size in bytes (HEAD). */
export async function objectSize(uri: string, client = getS3Client()): Promise<number> {
  const { bucket, key } = parseS3Uri(uri);
  return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
}

/**
 * Deletes the objects (missing ones are fine), 1,000 keys per call and bucket. DeleteObjects
 * answers 200 even when some keys could not be deleted (access denied, throttled): those per-key
 * errors are thrown, never ignored.
 */
export async function deleteObjects(uris: string[], client = getS3Client()): Promise<void> {
  const byBucket = new Map<string, string[]>();
  for (const { bucket, key } of uris.map(parseS3Uri)) byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), key]);
  for (const [bucket, keys] of byBucket) {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }));
      const errors = out.Errors ?? [];
      if (errors.length > 0) {
        const first = errors[0];
        throw Object.assign(new Error(`could not delete ${errors.length} of ${chunk.length} objects in s3://${bucket}, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim()), {
          name: 'DeleteObjectsFailed',
          errors,
        });
      }
    }
  }
}
