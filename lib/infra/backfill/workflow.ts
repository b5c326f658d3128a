/**
 * The backfill state machine: Shard (list the inputs) → SplitInputs (Distributed Map, one Lambda
 * per input file) → DedupPartitions (Distributed Map, one Lambda per hash partition; manifests
 * only) → FinishPlan (shards + run plan) → Embed (a Map of Batch array jobs, one per wave of ≤
 * maxArraySize shards, a bounded number at a time) → Load (a Map of per-shard LanceDB loads) →
 * Index → Report → succeed, or fail naming the failed shards. The same definition runs in AWS
 * and, through the local runner, on one machine.
 *
 * Execution input: { inventoryUri | manifestPrefix | manifestUri, workUri, dbUri, shardSize?,
 * maxArraySize?, waveConcurrency?, keyPrefix?, imageSuffixes?, partitions?, runId? (default: the
 * execution name), modelUri? }. Payloads stay small: states pass the run plan and indexes, and
 * every URI is derived from lib/core/backfill/layout.ts and plan-files.ts.
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BatchRunJob, jobDefinitionRevisions } from '../batch-run-job';
import { BACKFILL_FAILED_ERROR, BackfillState, INDEX_JOB_COMMAND, INDEX_JOB_DB_ENV } from '../../core/backfill/state-names';
import { PERMANENT_STEP_ERRORS } from '../../core/backfill/step-errors';
import { DEFAULT_PLAN_CONCURRENCY } from '../../core/backfill/config';
import { BATCH_ENV } from '../../core/pipeline/batch-job';

export interface BackfillWorkflowProps {
  /** Runs lambdas/shard.ts: the planning steps (list inputs, split one input, dedupe one partition, finish the plan). */
  readonly shardFunction: lambda.IFunction;
  /** Runs lambdas/load.ts: loads one shard's results into LanceDB. */
  readonly loadFunction: lambda.IFunction;
  /** Runs lambdas/index-table.ts: builds the LanceDB indexes. */
  readonly indexFunction: lambda.IFunction;
  /** Runs lambdas/report.ts: writes report.json. Granted batch:ListJobs to explain failed children. */
  readonly reportFunction: lambda.IFunction;
  /** Queue of the GPU compute environment. */
  readonly jobQueueArn: string;
  /** Job definition of the worker container (`vista worker --from-env`). */
  readonly jobDefinitionArn: string;
  /**
   * Name of that job definition: the state machine may submit its revisions only
   * (`job-definition/<name>:*`).
   * @default - taken from jobDefinitionArn, which must then be a literal ARN
   */
  readonly jobDefinitionName?: string;
  /**
   * Shards loaded into LanceDB at once. Each load is one LanceDB commit: more at once means more
   * commit conflicts to retry, not more speed.
   * @default 8
   */
  readonly loadConcurrency?: number;
  /**
   * Attempts per Batch child (overrides the job definition's retry strategy).
   * @default - the job definition's
   */
  readonly jobAttempts?: number;
  /**
   * Build the indexes in an AWS Batch job instead of the index Lambda once the images table has
   * `minRows` rows or more: an IVF build over tens of millions of vectors outlasts Lambda's 15
   * minutes. The job runs `vista backfill index --from-env` (VISTA_DB_URI) in the job definition's
   * image, which must be allowed to read and write the LanceDB prefix.
   * @default - always the index Lambda
   */
  readonly indexJob?: BackfillIndexJob;
  /**
   * Input files split, and partitions deduplicated, at once by the planning Distributed Maps.
   * @default 100
   */
  readonly planConcurrency?: number;
  /**
   * Longest wait for one wave (Batch array job) to finish, queueing included; past it the wave
   * is stopped (its job terminated) and caught like a failed wave.
   * @default Duration.days(3)
   */
  readonly embedWaveTimeout?: Duration;
  /**
   * Longest wait for the Batch index job (IndexOnBatch), queueing and its retry included; past it
   * the job is terminated and the run goes on to its report. It must leave the report room inside
   * the execution's `timeout`: 7 days − one wave's 3 days − planning and loading ≈ 3.5 days, and the
   * 500M build is projected at ≈ 46 h (docs/benchmarks.md).
   * @default Duration.hours(84)
   */
  readonly indexJobTimeout?: Duration;
  /** @default - no execution logging */
  readonly logs?: sfn.LogOptions;
  /** @default false */
  readonly tracingEnabled?: boolean;
  /**
   * Maximum duration of one execution.
   * @default Duration.days(7)
   */
  readonly timeout?: Duration;
}

export interface BackfillIndexJob {
  readonly jobQueueArn: string;
  readonly jobDefinitionArn: string;
  /** @default - taken from jobDefinitionArn, which must then be a literal ARN */
  readonly jobDefinitionName?: string;
  /** Tables with at least this many rows are indexed by the job. */
  readonly minRows: number;
}

/** Lambda's own transient failures; the optimized integration names them Lambda.<Exception>. */
const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
];
const BATCH_TRANSIENT_ERRORS = ['Batch.ServerException', 'Batch.TooManyRequestsException', 'Batch.AWSBatchException'];



export class BackfillWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: BackfillWorkflowProps) {
    super(scope, id);
    const S = BackfillState;

    const shard = this.invoke(S.shard, props.shardFunction, {
      payload: sfn.TaskInput.fromObject({ input: sfn.JsonPath.entirePayload, executionName: sfn.JsonPath.stringAt('$$.Execution.Name') }),
      // The planning state replaces the state: the Maps read $.inputIndexes, $.partitionIndexes, …
      outputPath: '$.Payload',
    });
    const split = this.planMap(S.splitInputs, S.splitInput, props, '$.inputIndexes', { step: 'split', inputIndex: sfn.JsonPath.numberAt('$$.Map.Item.Value') });
    const dedup = this.planMap(S.dedupPartitions, S.dedupPartition, props, '$.partitionIndexes', {
      step: 'dedup',
      partitionIndex: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
    });
    const finishPlan = this.invoke(S.finishPlan, props.shardFunction, {
      payload: sfn.TaskInput.fromObject({ step: 'finish', planning: sfn.JsonPath.entirePayload }),
      // The run plan replaces the state: every later state reads $.runId, $.shardsUri, $.waves, …
      outputPath: '$.Payload',
    });

    const embed = this.embedWaves(props);
    const load = this.loadMap(props);
    // Each wave catches its own failure; this only catches the Map itself failing. Either way
    // the completed shards are loaded and the report names the rest.
    embed.addCatch(load, { errors: [sfn.Errors.ALL], resultPath: '$.embedError' });

    const index = this.invoke(S.index, props.indexFunction, {
      payload: sfn.TaskInput.fromObject({
        dbUri: sfn.JsonPath.stringAt('$.dbUri'),
        ...(props.indexJob ? { batchFromRows: props.indexJob.minRows } : {}),
      }),
      resultSelector: { result: sfn.JsonPath.objectAt('$.Payload') },
      resultPath: '$.index',
    });

    props.reportFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['batch:ListJobs'], resources: ['*'] }));
    const report = this.invoke(S.report, props.reportFunction, {
      payload: sfn.TaskInput.fromObject({ run: sfn.JsonPath.entirePayload, startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime') }),
      outputPath: '$.Payload',
    });
    // Not on to the index step: after a failed Map, loads may still be running (Step Functions
    // does not stop Lambda invocations in flight), and compaction must never overlap a loader.
    load.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.loadError' });
    index.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.indexError' });
    const afterIndex = props.indexJob ? this.indexOnBatch(props.indexJob, report, props.indexJobTimeout ?? Duration.hours(84)) : report;

    const verdict = new sfn.Choice(this, S.checkReport)
      .when(sfn.Condition.booleanEquals('$.ok', true), new sfn.Succeed(this, S.succeeded))
      .otherwise(new sfn.Fail(this, S.failed, { error: BACKFILL_FAILED_ERROR, causePath: '$.cause' }));

    index.next(afterIndex);
    report.next(verdict);
    const definition = shard.next(split).next(dedup).next(finishPlan).next(embed).next(load).next(index);
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout ?? Duration.days(7),
      logs: props.logs,
      tracingEnabled: props.tracingEnabled ?? false,
      comment: 'Vista backfill: plan shards from an inventory or manifests, enrich them on AWS Batch in waves, load them into LanceDB, index, report',
    });
  }

  /** The index Lambda hands big tables over (`handedOff`); then a Batch job builds their indexes. */
  private indexOnBatch(job: BackfillIndexJob, report: sfn.IChainable, timeout: Duration): sfn.Choice {
    const S = BackfillState;
    const onBatch = new BatchRunJob(this, S.indexOnBatch, jobDefinitionRevisions(job.jobDefinitionArn, job.jobDefinitionName), {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      jobName: sfn.JsonPath.format('vista-index-{}', sfn.JsonPath.stringAt('$.runId')),
      jobQueueArn: job.jobQueueArn,
      jobDefinitionArn: job.jobDefinitionArn,
      containerOverrides: { command: INDEX_JOB_COMMAND, environment: { [INDEX_JOB_DB_ENV]: sfn.JsonPath.stringAt('$.dbUri') } },
      resultSelector: { jobId: sfn.JsonPath.stringAt('$.JobId'), status: sfn.JsonPath.stringAt('$.Status') },
      resultPath: '$.indexJob',
    }, timeout);
    onBatch.addRetry({ errors: BATCH_TRANSIENT_ERRORS, interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    onBatch.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.indexError' });
    return new sfn.Choice(this, S.indexHandedOff)
      .when(sfn.Condition.booleanEquals('$.index.result.handedOff', true), onBatch.next(report))
      .otherwise(report);
  }

  /**
   * A planning Distributed Map: one shard-function invocation per item (an input file or a
   * partition), each idempotent (a marker file written last). Any item failing for good fails
   * the execution: a run without its whole plan has nothing to embed.
   */
  private planMap(id: string, taskId: string, props: BackfillWorkflowProps, itemsPath: string, item: Record<string, unknown>): sfn.DistributedMap {
    // Each iteration returns only its index: the Map's collected results must stay small.
    const task = this.invoke(taskId, props.shardFunction, { payload: sfn.TaskInput.fromJsonPathAt('$'), outputPath: '$.Payload.index' });
    task.addRetry({ errors: [...PERMANENT_STEP_ERRORS], maxAttempts: 0 });
    task.addRetry({ errors: [sfn.Errors.TASKS_FAILED], interval: Duration.seconds(10), maxAttempts: 2, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    const map = new sfn.DistributedMap(this, id, {
      itemsPath,
      itemSelector: { ...item, runId: sfn.JsonPath.stringAt('$.runId'), workUri: sfn.JsonPath.stringAt('$.workUri') },
      maxConcurrency: props.planConcurrency ?? DEFAULT_PLAN_CONCURRENCY,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultPath: sfn.JsonPath.DISCARD,
      label: taskId,
    });
    map.itemProcessor(task);
    return map;
  }

  /**
   * Embed: one Batch array job (`.sync`) per wave of ≤ maxArraySize shards, `$.waveConcurrency`
   * waves at a time. A wave that fails (some children failed for good, or its timeout) is caught
   * inside its iteration, so the other waves go on; the Map's result lists each wave's job or
   * error for the report. An inline Map: a run has a handful of waves, not thousands.
   */
  private embedWaves(props: BackfillWorkflowProps): sfn.Map {
    const S = BackfillState;
    const wave = new BatchRunJob(this, S.embedWave, jobDefinitionRevisions(props.jobDefinitionArn, props.jobDefinitionName), {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      jobName: sfn.JsonPath.stringAt('$.jobName'),
      jobQueueArn: props.jobQueueArn,
      jobDefinitionArn: props.jobDefinitionArn,
      arraySize: sfn.JsonPath.numberAt('$.arraySize'),
      containerOverrides: {
        environment: {
          [BATCH_ENV.shardsUri]: sfn.JsonPath.stringAt('$.shardsUri'),
          [BATCH_ENV.resultsUri]: sfn.JsonPath.stringAt('$.resultsUri'),
          [BATCH_ENV.shardCount]: sfn.JsonPath.stringAt('$.shardCountText'),
          [BATCH_ENV.shardOffset]: sfn.JsonPath.stringAt('$.firstShardText'),
          [BATCH_ENV.modelUri]: sfn.JsonPath.stringAt('$.modelUri'),
        },
      },
      attempts: props.jobAttempts,
      resultSelector: { jobId: sfn.JsonPath.stringAt('$.JobId'), status: sfn.JsonPath.stringAt('$.Status') },
      resultPath: '$.job',
    }, props.embedWaveTimeout ?? Duration.days(3));
    wave.addRetry({ errors: BATCH_TRANSIENT_ERRORS, interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    const done = new sfn.Pass(this, S.embedWaveDone, {
      parameters: { wave: sfn.JsonPath.numberAt('$.wave'), jobId: sfn.JsonPath.stringAt('$.job.jobId'), status: sfn.JsonPath.stringAt('$.job.status') },
    });
    const failed = new sfn.Pass(this, S.embedWaveFailed, { parameters: { wave: sfn.JsonPath.numberAt('$.wave'), error: sfn.JsonPath.objectAt('$.error') } });
    wave.addCatch(failed, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const value = (field: string) => `$$.Map.Item.Value.${field}`;
    const map = new sfn.Map(this, S.embed, {
      itemsPath: '$.waves',
      itemSelector: {
        wave: sfn.JsonPath.numberAt(value('wave')),
        jobName: sfn.JsonPath.stringAt(value('jobName')),
        arraySize: sfn.JsonPath.numberAt(value('arraySize')),
        firstShardText: sfn.JsonPath.stringAt(value('firstShardText')),
        shardsUri: sfn.JsonPath.stringAt('$.shardsUri'),
        resultsUri: sfn.JsonPath.stringAt('$.resultsUri'),
        shardCountText: sfn.JsonPath.stringAt('$.shardCountText'),
        modelUri: sfn.JsonPath.stringAt('$.modelUri'),
      },
      maxConcurrencyPath: '$.waveConcurrency',
      resultPath: '$.embed',
    });
    map.itemProcessor(wave.next(done));
    return map;
  }

  /**
   * A Distributed Map, not an inline one: an inline Map records every iteration in the
   * execution's history, whose 25,000-event limit 10,000 shards would exceed. Iterations
   * return only their shard index (outcomes are files), so the collected results stay small.
   */
  private loadMap(props: BackfillWorkflowProps): sfn.DistributedMap {
    const S = BackfillState;
    const loadShard = this.invoke(S.loadShard, props.loadFunction, {
      payload: sfn.TaskInput.fromJsonPathAt('$'),
      outputPath: '$.Payload.shardIndex',
    });
    // A shard that cannot load (incomplete or invalid output) would fail the same way again.
    loadShard.addRetry({ errors: [...PERMANENT_STEP_ERRORS], maxAttempts: 0 });
    // LanceDB commit conflicts and S3 hiccups are worth a few more tries before giving up on a shard.
    loadShard.addRetry({ errors: [sfn.Errors.TASKS_FAILED], interval: Duration.seconds(10), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    const recordFailure = this.invoke(S.recordLoadFailure, props.loadFunction, {
      payload: sfn.TaskInput.fromJsonPathAt('$'),
      outputPath: '$.Payload.shardIndex',
    });
    loadShard.addCatch(recordFailure, { errors: [sfn.Errors.ALL], resultPath: '$.error' });

    const map = new sfn.DistributedMap(this, S.load, {
      itemsPath: '$.shardIndexes',
      itemSelector: {
        shardIndex: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
        runId: sfn.JsonPath.stringAt('$.runId'),
        workUri: sfn.JsonPath.stringAt('$.workUri'),
        dbUri: sfn.JsonPath.stringAt('$.dbUri'),
        newTable: sfn.JsonPath.stringAt('$.newTable'),
      },
      maxConcurrency: props.loadConcurrency ?? 8,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultPath: sfn.JsonPath.DISCARD,
      label: 'LoadShard',
    });
    map.itemProcessor(loadShard);
    return map;
  }

  private invoke(
    id: string,
    fn: lambda.IFunction,
    options: Pick<tasks.LambdaInvokeProps, 'payload' | 'outputPath' | 'resultSelector' | 'resultPath'>,
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, id, {
      lambdaFunction: fn,
      ...options,
      retryOnServiceExceptions: false,
      // Lambda stops a function at 15 minutes; a little more here only covers queueing.
      taskTimeout: sfn.Timeout.duration(Duration.minutes(16)),
    });
    task.addRetry({ errors: LAMBDA_TRANSIENT_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    return task;
  }
}
