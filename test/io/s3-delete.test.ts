/**
 * DeleteObjects answers 200 with per-key errors: they must fail the call (the real-time ingest
 * would otherwise mark records done that are still in its inbox). Keys of several buckets go to
 * their own bucket.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { deleteObjects } from '../../lib/core/io/s3';

function fakeClient(answer: (input: { Bucket: string; Delete: { Objects: { Key: string }[] } }) => object): { client: S3Client; calls: { Bucket: string; keys: string[] }[] } {
  const calls: { Bucket: string; keys: string[] }[] = [];
  const client = {
    send: async (command: { input: { Bucket: string; Delete: { Objects: { Key: string }[] } } }) => {
      calls.push({ Bucket: command.input.Bucket, keys: command.input.Delete.Objects.map((o) => o.Key) });
      return answer(command.input);
    },
  } as unknown as S3Client;
  return { client, calls };
}

test('per-key errors are thrown, not ignored', async () => {
  const { client } = fakeClient(() => ({ Errors: [{ Key: 'inbox/b.json', Code: 'AccessDenied', Message: 'Access Denied' }] }));
  await expect(deleteObjects(['s3://work/inbox/a.json', 's3://work/inbox/b.json'], client)).rejects.toThrow(/could not delete 1 of 2 objects in s3:\/\/work, e\.g\. inbox\/b\.json: AccessDenied/);
});

test('keys go to their own bucket, 1,000 per call', async () => {
  const { client, calls } = fakeClient(() => ({}));
  const uris = [...Array.from({ length: 1_001 }, (_, i) => `s3://one/k${i}`), 's3://two/x'];
  await deleteObjects(uris, client);
  expect(calls.map((c) => [c.Bucket, c.keys.length])).toEqual([['one', 1000], ['one', 1], ['two', 1]]);
});
