/**
 * The shard function's S3 grants against the keys its planning steps really touch: every step of
 * the planning (Shard, SplitInput, DedupPartition, FinishPlan) runs here through the Lambda's own
 * handler on a folder laid out as the work bucket, and each file it read or wrote must fall under
 * the synthesized role's patterns. (The pinned patterns in iam.test.ts once left plan/ out: the
 * first deployed run would have failed with AccessDenied on plan/inputs.json.)
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeShardHandler } from '../../lambdas/shard';
import { writeInventory } from '../../lib/core/backfill/demo/inventory';
import type { PlanningState } from '../../lib/core/backfill/events';
import { makeLogger } from '../../lib/core/log';
import { describeFindings, logicalId, statementsOfRole, synthBackfill, type Statement, type Synthesized } from './support/synth';

const INVENTORY_BUCKET = 'catalog-inventory';
let synth: Synthesized;
let root: string;
beforeAll(async () => {
  synth = synthBackfill({ inventoryBucketName: INVENTORY_BUCKET, inventoryPrefix: 'reports/' }, { cfnValidation: false });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-plan-grants-'));
});
afterAll(async () => {
  synth?.cleanup();
  await fs.rm(root, { recursive: true, force: true });
});

/** IAM's wildcard match on one object ARN pattern (`*` any run of characters, `?` one). */
function matches(pattern: string, arn: string): boolean {
  const regex = new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&'))).join('')}$`);
  return regex.test(arn);
}

function allowedOn(statements: Statement[], action: string, arn: string): boolean {
  return statements.some((s) => s.effect === 'Allow' && s.actions.includes(action) && s.resources.some((r) => matches(r, arn)));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

/** Plans a run as the state machine would: Shard, every SplitInput, every DedupPartition, FinishPlan. */
async function planAsTheStateMachine(input: Record<string, unknown>, runId: string): Promise<void> {
  const handler = makeShardHandler(makeLogger({ json: true, write: () => {} }));
  const state = (await handler({ input: { ...input, runId, dbUri: path.join(root, 'db') }, executionName: runId })) as PlanningState;
  for (const inputIndex of state.inputIndexes) await handler({ step: 'split', workUri: state.workUri, runId, inputIndex });
  for (const partitionIndex of state.partitionIndexes) await handler({ step: 'dedup', workUri: state.workUri, runId, partitionIndex });
  await handler({ step: 'finish', planning: state });
}

test('every file the planning writes in the work bucket is one the shard role may write and read back', async () => {
  const workBucket = path.join(root, 'work-bucket');
  const manifests = path.join(workBucket, 'manifests', 'catalog');
  await fs.mkdir(manifests, { recursive: true });
  await fs.writeFile(path.join(manifests, 'a.jsonl'), ['a', 'b', 'c'].map((k) => JSON.stringify({ uri: `s3://src/${k}.jpg` })).join('\n'));
  await fs.writeFile(path.join(manifests, 'b.jsonl'), [...['c', 'd'].map((k) => JSON.stringify({ uri: `s3://src/${k}.jpg` })), 'not one uri'].join('\n'));
  await planAsTheStateMachine({ manifestPrefix: manifests, workUri: path.join(workBucket, 'work'), partitions: 2, shardSize: 2 }, 'prefix-run');

  const statements = statementsOfRole(synth.template, logicalId(synth.template, 'AWS::IAM::Role', 'FunctionsShardRole'));
  const work = `<${logicalId(synth.template, 'AWS::S3::Bucket', 'StorageWork')}.Arn>`;
  const keys = (await filesUnder(workBucket)).filter((k) => k.startsWith('work/'));
  // Spill, dedup and split markers, chunks, inputs.json, run-plan.json and the shards themselves.
  for (const part of ['/plan/inputs.json', '/plan/spill/', '/plan/split/', '/plan/dedup/', '/plan/chunks/', '/plan/invalid/', '/plan/run-plan.json', '/shards/_manifest.json', '/shards/shard-']) {
    expect(keys.some((k) => k.includes(part))).toBe(true);
  }
  expect(keys.filter((k) => !allowedOn(statements, 's3:PutObject', `${work}/${k}`))).toEqual([]);
  expect(keys.filter((k) => !allowedOn(statements, 's3:GetObject', `${work}/${k}`))).toEqual([]);
  expect(allowedOn(statements, 's3:GetObject', `${work}/manifests/catalog/a.jsonl`)).toBe(true);
});

test('an inventory in the configured inventory bucket is readable by the shard role, under its prefix only', async () => {
  const inventoryBucket = path.join(root, INVENTORY_BUCKET);
  const written = await writeInventory({ destinationUri: inventoryBucket, sourceBucket: 'src', files: [['x.jpg', 'y.jpg'], ['z.jpg']], prefix: 'reports' });
  await planAsTheStateMachine({ inventoryUri: written.manifestUri, workUri: path.join(root, 'work-bucket-2', 'work'), shardSize: 2 }, 'inventory-run');

  const statements = statementsOfRole(synth.template, logicalId(synth.template, 'AWS::IAM::Role', 'FunctionsShardRole'));
  const arn = (key: string) => `arn:<AWS::Partition>:s3:::${INVENTORY_BUCKET}/${key}`;
  const read = await filesUnder(inventoryBucket);
  expect(read.some((k) => k.endsWith('manifest.json')) && read.some((k) => k.endsWith('.csv.gz'))).toBe(true);
  expect(read.filter((k) => !allowedOn(statements, 's3:GetObject', arn(k)))).toEqual([]);
  expect(allowedOn(statements, 's3:GetObject', arn('elsewhere/manifest.json'))).toBe(false);
  expect(allowedOn(statements, 's3:PutObject', arn('reports/x'))).toBe(false);
});

test('with an inventory bucket configured, the stack has no unacknowledged cdk-nag finding', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
