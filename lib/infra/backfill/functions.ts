/**
 * The backfill's four Lambdas (handlers in lambdas/), each bound to exactly the prefixes its step
 * touches. Run files live under `work/runs/<runId>/` (lib/core/backfill/layout.ts):
 *
 *   shard   reads manifests/… (and the inventory bucket, when configured); reads and writes its
 *           planning files runs/*\/plan/… ; writes (and clears stale) runs/*\/shards/…
 *   load    reads runs/*\/results/… ; writes runs/*\/loads/… ; reads/writes the LanceDB store
 *   index   reads/writes the LanceDB store
 *   report  reads runs/*\/{shards,results,loads}/… ; writes runs/*\/report.json
 *
 * None of them can read or write the source images.
 */
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { LanceDbLayer } from '../lancedb-layer';
import { grantObjects } from '../s3-access';
import { allowWildcards } from '../nag';
import { STORAGE_LAYOUT, type VistaStorage } from '../storage';
import { VistaFunction } from '../vista-function';

export type FunctionsConfig = Pick<
  InfraConfig,
  'shardSize' | 'modelPath' | 'inventoryPrefix' | 'shardMemoryMiB' | 'loadMemoryMiB' | 'indexMemoryMiB' | 'indexEphemeralStorageMiB' | 'logRetentionDays'
>;

export interface BackfillFunctionsProps {
  readonly config: FunctionsConfig;
  readonly storage: VistaStorage;
}

export class BackfillFunctions extends Construct {
  readonly shard: VistaFunction;
  readonly load: VistaFunction;
  readonly index: VistaFunction;
  readonly report: VistaFunction;
  readonly lanceDb: LanceDbLayer;

  constructor(scope: Construct, id: string, props: BackfillFunctionsProps) {
    super(scope, id);
    const { config, storage } = props;
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const runs = `${STORAGE_LAYOUT.work}/runs/*`;
    this.lanceDb = new LanceDbLayer(this, 'LanceDb');

    this.shard = new VistaFunction(this, 'Shard', {
      entry: 'lambdas/shard.ts',
      description: 'Vista backfill: shards the manifest into the shard files of the run',
      logRetention,
      memorySize: config.shardMemoryMiB,
    })
      .bindWorkBucket(
        storage,
        {
          read: [`${STORAGE_LAYOUT.manifests}/*`, `${runs}/plan/*`, `${runs}/shards/*`],
          write: [`${runs}/plan/*`, `${runs}/shards/*`],
          delete: [`${runs}/shards/*`],
        },
        'The planning steps read manifests, keep their spill, chunks and markers under plan/, and (re)write the shard files of the run',
      )
      .bindBackfillDefaults({ shardSize: config.shardSize, modelUri: storage.modelUri(config.modelPath) });
    if (storage.inventoryBucket) {
      grantObjects(this.shard, storage.inventoryBucket, { read: [`${config.inventoryPrefix}*`] }, {
        why: "The shard step reads the source bucket's S3 Inventory reports (manifest.json and its data files)",
      });
    }

    this.load = new VistaFunction(this, 'Load', {
      entry: 'lambdas/load.ts',
      description: 'Vista backfill: loads the results of one shard into LanceDB',
      logRetention,
      memorySize: config.loadMemoryMiB,
      lanceDb: this.lanceDb,
    })
      .bindWorkBucket(storage, { read: [`${runs}/results/*`], write: [`${runs}/loads/*`] }, 'The load step reads the results of a shard and records its load outcome')
      .bindVectorStore(storage);

    this.index = new VistaFunction(this, 'Index', {
      entry: 'lambdas/index-table.ts',
      description: 'Vista backfill: builds the LanceDB indexes',
      logRetention,
      memorySize: config.indexMemoryMiB,
      // LanceDB spills index-training and shuffle files to /tmp.
      ephemeralStorageMiB: config.indexEphemeralStorageMiB,
      lanceDb: this.lanceDb,
    }).bindVectorStore(storage);

    this.report = new VistaFunction(this, 'Report', {
      entry: 'lambdas/report.ts',
      description: 'Vista backfill: writes the run report',
      logRetention,
    }).bindWorkBucket(
      storage,
      { read: [`${runs}/shards/*`, `${runs}/results/*`, `${runs}/loads/*`], write: [`${runs}/report.json`] },
      'The report step reads the summary and load outcome of every shard and writes report.json',
    );
    // BackfillWorkflow grants it batch:ListJobs to name the failed children of the array job.
    allowWildcards(this.report.role!, [
      { match: { finding: /^Resource::\*$/ }, reason: 'batch:ListJobs (and X-Ray tracing) have no resource-level permissions.' },
    ]);
  }

  /** By display name, for the dashboard. */
  get all(): Record<string, VistaFunction> {
    return { shard: this.shard, load: this.load, index: this.index, report: this.report };
  }
}
