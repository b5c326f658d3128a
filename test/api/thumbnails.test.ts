/**
 * Pre-signed thumbnails (the Lambda's): signed only for S3 source URIs under the allowed prefixes.
 * Signing is local (no request is sent), so a client with static test credentials is enough.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { parseThumbnailPrefixes } from '../../lib/core/api/query-api-env';
import { presignedThumbnails, thumbnailRoute, underPrefixes } from '../../lib/core/api/thumbnails';
import { SystemErrorCode, isVistaError } from '../../lib/core/errors';

const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'secret' } });
afterAll(() => client.destroy());
const thumbnails = presignedThumbnails({ client, allowedPrefixes: ['s3://source-bucket/images/', 's3://uploads-bucket/uploads/'], expiresInSeconds: 600 });

const refusal = async (uri: string) => {
  try {
    await thumbnails.serve(uri);
  } catch (err) {
    return isVistaError(err) ? err.code : String(err);
  }
  return 'signed';
};

describe('presignedThumbnails', () => {
  it('signs a GET of the very object, for the configured time, under an allowed prefix', async () => {
    const url = new URL(await thumbnails.urlFor('img-1', 's3://source-bucket/images/h1/room 1.jpg'));
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe('source-bucket.s3.eu-west-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe('/images/h1/room 1.jpg');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    const answer = await thumbnails.serve('s3://uploads-bucket/uploads/x.png');
    expect(answer.status).toBe(302);
    expect(new URL(answer.headers.location).hostname).toBe('uploads-bucket.s3.eu-west-1.amazonaws.com');
  });

  it.each([
    ['another bucket', 's3://other-bucket/images/a.jpg'],
    ['another prefix of the same bucket', 's3://source-bucket/private/a.jpg'],
    ['a prefix that only starts like an allowed one', 's3://source-bucket/images-private/a.jpg'],
    ['a bucket that only starts like an allowed one', 's3://source-bucket-2/images/a.jpg'],
    ['a parent-folder step', 's3://source-bucket/images/../private/a.jpg'],
    ['a local file', '/etc/passwd'],
    ['an https URL', 'https://example.com/images/a.jpg'],
  ])('refuses %s', async (_, uri) => {
    expect(await refusal(uri)).toBe(SystemErrorCode.REQUEST_INVALID);
    // In a result, such an image gets the thumbnail route (which refuses), never a signed URL.
    expect(await thumbnails.urlFor('img-9', uri)).toBe(thumbnailRoute('img-9'));
  });
});

describe('underPrefixes', () => {
  it('matches by the raw URI, so a prefix must end with "/" to mean a folder', () => {
    expect(underPrefixes('s3://b/images/a.jpg', ['s3://b/images/'])).toBe(true);
    expect(underPrefixes('s3://b/imagesX/a.jpg', ['s3://b/images/'])).toBe(false);
    expect(underPrefixes('s3://b/images/a.jpg', [])).toBe(false);
  });
});

describe('parseThumbnailPrefixes', () => {
  it('reads the comma-separated list the CDK construct sets, empty entries dropped', () => {
    expect(parseThumbnailPrefixes(' s3://a/x/ ,, s3://b/ ')).toEqual(['s3://a/x/', 's3://b/']);
    expect(parseThumbnailPrefixes(undefined)).toEqual([]);
  });
});
