/**
 * Thumbnails, only ever of images the store holds (the handler looks the source up by image_id,
 * so no caller-chosen path is ever read), and only under the allowed source prefixes.
 *
 * - served: the server reads the source (local file or S3) and answers a small WebP, cached;
 * - presigned: answers are pre-signed S3 GET URLs (the Lambda: no image bytes through it).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import sharp from 'sharp';
import { SystemErrorCode, VistaError } from '../errors';
import type { ImageSource } from '../io/source';
import { isS3Uri, parseS3Uri } from '../io/s3';
import { API_PREFIX } from './schemas';
import type { ApiResponse, Thumbnails } from './handler';

export const THUMBNAIL_PX = 320;

export const thumbnailRoute = (imageId: string) => `${API_PREFIX}/images/${encodeURIComponent(imageId)}/thumbnail`;

function accessDenied(uri: string): VistaError {
  return new VistaError(SystemErrorCode.REQUEST_INVALID, `thumbnails are served only under the source prefixes; ${uri} is outside them`);
}

/** Whether a source URI lies under one of the prefixes (no `..` tricks: prefixes are matched on the raw URI). */
export function underPrefixes(uri: string, prefixes: readonly string[]): boolean {
  return !uri.includes('/../') && prefixes.some((p) => uri.startsWith(p));
}

export interface ServedThumbnailsOptions {
  source: ImageSource;
  /** Source URI prefixes thumbnails may be read from (local folders, s3://bucket/prefix/). */
  allowedPrefixes: string[];
  /** Thumbnails kept in memory. @default 1000 */
  cacheEntries?: number;
}

export function servedThumbnails(options: ServedThumbnailsOptions): Thumbnails {
  const cache = new Map<string, Promise<Buffer>>();
  const limit = options.cacheEntries ?? 1000;
  const render = async (uri: string) =>
    sharp(await options.source.fetch(uri), { limitInputPixels: 100_000_000 })
      .rotate()
      .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toBuffer();
  return {
    urlFor: (imageId) => thumbnailRoute(imageId),
    async serve(uri): Promise<ApiResponse> {
      if (!underPrefixes(uri, options.allowedPrefixes)) throw accessDenied(uri);
      let bytes = cache.get(uri);
      if (!bytes) {
        bytes = render(uri);
        cache.set(uri, bytes);
        bytes.catch(() => cache.delete(uri));
        if (cache.size > limit) cache.delete(cache.keys().next().value!);
      }
      return { status: 200, headers: { 'content-type': 'image/webp', 'cache-control': 'private, max-age=3600' }, body: await bytes };
    },
  };
}

export interface PresignedThumbnailsOptions {
  client: S3Client;
  /** s3://bucket/prefix/ the function may sign for (its role can read nothing else either). */
  allowedPrefixes: string[];
  /** @default 900 */
  expiresInSeconds?: number;
}

export function presignedThumbnails(options: PresignedThumbnailsOptions): Thumbnails {
  const sign = async (uri: string) => {
    if (!isS3Uri(uri) || !underPrefixes(uri, options.allowedPrefixes)) throw accessDenied(uri);
    const { bucket, key } = parseS3Uri(uri);
    return getSignedUrl(options.client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: options.expiresInSeconds ?? 900 });
  };
  return {
    // Images outside the prefixes get the route, which refuses them: a result never fails for its thumbnail.
    urlFor: (imageId, uri) => (isS3Uri(uri) && underPrefixes(uri, options.allowedPrefixes) ? sign(uri) : thumbnailRoute(imageId)),
    async serve(uri) {
      return { status: 302, headers: { location: await sign(uri), 'cache-control': 'private, max-age=300' }, body: '' };
    },
  };
}
