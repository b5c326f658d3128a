/**
 * An S3 Inventory report copied into another bucket (the work bucket's manifests/, the fallback
 * when the stack names no inventory bucket) is read from the copy: its data files are found under
 * the copy's prefix, not in the destination bucket manifest.json names.
 */
import { CopyObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { writeInventory } from '../../lib/core/backfill/demo/inventory';
import { DEFAULT_FILTER, finishPlan, planInputs, splitInput } from '../../lib/core/backfill/plan-steps';
import { getS3Client, listObjects, parseS3Uri } from '../../lib/core/io/s3';
import { type LocalS3, startS3 } from '../support/s3';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(() => s3?.stop());

test('a report copied under manifests/ of the work bucket plans from the copy', async () => {
  const destination = await s3.bucket('inventory-dest');
  const work = await s3.bucket('work-bucket');
  const written = await writeInventory({ destinationUri: destination, sourceBucket: 'photos', files: [['a.jpg', 'b.jpg'], ['c.jpg']] });
  // Copy every object of the report, keys kept, under manifests/inv/; then remove the originals.
  const client = getS3Client();
  for (const uri of await listObjects(destination)) {
    const { key } = parseS3Uri(uri);
    await client.send(new CopyObjectCommand({ Bucket: 'work-bucket', Key: `manifests/inv/${key}`, CopySource: `inventory-dest/${key}` }));
    await client.send(new DeleteObjectCommand({ Bucket: 'inventory-dest', Key: key }));
  }
  const copied = `${work}/manifests/inv/${parseS3Uri(written.manifestUri).key}`;

  const inputs = await planInputs(`${work}/work`, 'copy', { kind: 'inventory', uri: copied }, { shardSize: 10, maxArraySize: 10_000, waveConcurrency: 1, partitionBytes: 1 << 28, filter: DEFAULT_FILTER });
  expect(inputs.files.map((f) => f.uri)).toEqual(expect.arrayContaining([expect.stringMatching(/^s3:\/\/work-bucket\/manifests\/inv\/.+\.csv\.gz$/)]));
  expect(inputs.files).toHaveLength(2);
  for (let i = 0; i < inputs.files.length; i++) await splitInput(`${work}/work`, 'copy', i);
  expect((await finishPlan(`${work}/work`, 'copy')).entries).toBe(3);
});
