/**
 * Where the planning steps keep their files, and the small file operations they need.
 *
 *   <run>/plan/inputs.json                              the input files and settings (Shard step)
 *   <run>/plan/split/input-IIIII.json                   counts of one input file, written last
 *   <run>/plan/spill/part-PPPPP/input-IIIII-SSSSS.jsonl  entries of input I hashed to partition P
 *   <run>/plan/dedup/part-PPPPP.json                    counts of one partition, written last
 *   <run>/plan/chunks/{input-IIIII|part-PPPPP}/chunk-CCCCC.jsonl   shard-sized chunks, then copied to
 *   <run>/shards/shard-NNNNN.jsonl                      the shards (deterministic names and order)
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { joinUri, toLocalPath } from '../io/location';
import { getS3Client, isS3Uri, parseS3Uri } from '../io/s3';
import { runLayout } from './layout';

const pad = (n: number) => String(n).padStart(5, '0');

export function planLayout(workUri: string, runId: string) {
  const planUri = joinUri(runLayout(workUri, runId).runUri, 'plan');
  return {
    planUri,
    inputsUri: joinUri(planUri, 'inputs.json'),
    splitMarkerUri: (input: number) => joinUri(planUri, 'split', `input-${pad(input)}.json`),
    spillDirUri: (partition: number) => joinUri(planUri, 'spill', `part-${pad(partition)}`),
    spillName: (input: number, segment: number) => `input-${pad(input)}-${pad(segment)}.jsonl`,
    dedupMarkerUri: (partition: number) => joinUri(planUri, 'dedup', `part-${pad(partition)}.json`),
    /** Every line of an input that is no usable entry, with its reason (JSONL), when there are any. */
    invalidLinesUri: (input: number) => joinUri(planUri, 'invalid', `input-${pad(input)}.jsonl`),
    chunkUri: (group: string, chunk: number) => joinUri(planUri, 'chunks', group, `chunk-${pad(chunk)}.jsonl`),
    inputGroup: (input: number) => `input-${pad(input)}`,
    partitionGroup: (partition: number) => `part-${pad(partition)}`,
  };
}

/** Copies a file within one location kind (server-side on S3); the target appears whole or not at all. */
export async function copyFile(fromUri: string, toUri: string): Promise<void> {
  if (isS3Uri(fromUri) && isS3Uri(toUri)) {
    const from = parseS3Uri(fromUri);
    const to = parseS3Uri(toUri);
    const source = `${from.bucket}/${from.key}`.split('/').map(encodeURIComponent).join('/');
    await getS3Client().send(new CopyObjectCommand({ Bucket: to.bucket, Key: to.key, CopySource: source }));
    return;
  }
  if (isS3Uri(fromUri) || isS3Uri(toUri)) throw new Error(`cannot copy between a folder and S3: ${fromUri} → ${toUri}`);
  const target = toLocalPath(toUri);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await fs.copyFile(toLocalPath(fromUri), temp);
  await fs.rename(temp, target);
}
