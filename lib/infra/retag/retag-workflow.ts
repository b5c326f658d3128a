/**
 * The Retag state machine: re-tags the catalog from its stored embeddings with a new taxonomy
 * (lib/core/catalog/retag.ts), no GPU and no image read. Input: `{ "taxonomyUri": "s3://…" }`.
 *
 *   RetagShards  a Batch array job on Fargate: child i runs `vista retag --partitions N` and
 *                re-tags the shards that hash to i (AWS_BATCH_JOB_ARRAY_INDEX), committing shard
 *                by shard with the retag ledger;
 *   RetagReport  one more `vista retag --partitions 1` over every shard: re-tags any shard a
 *                child left undone, and prints the before/after report from the ledger.
 * Each step is the CLI's code; reruns of the execution skip finished shards (idempotent).
 * Every unit's commit takes the store's writer lease (the CLI's runRetag), so a re-tag and a
 * backfill on the same store never commit at once.
 */
import { Aws, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { workerRetryStrategies } from '../backfill/retry';
import { BatchRunJob, jobDefinitionRevisions } from '../batch-run-job';
import { allowWildcards } from '../nag';
import type { VistaNetwork } from '../network';
import { grantObjects } from '../s3-access';
import { STORAGE_LAYOUT, type VistaStorage } from '../storage';

/** Batch job parameters (`Ref::…` in the command), filled by the state machine. */
export const RETAG_PARAMETER = { taxonomy: 'taxonomy', partitions: 'partitions' } as const;

export interface RetagWorkflowProps {
  readonly storage: VistaStorage;
  readonly network: VistaNetwork;
  /** The worker image (the CLI, LanceDB and onnxruntime are in it). */
  readonly image: ecs.ContainerImage;
  /** Model folder in the artifacts bucket: the model that embedded the store. */
  readonly modelPath: string;
  /** Children of the array job. @default 16 */
  readonly partitions?: number;
  /** vCPUs per child (a Fargate size). @default 4 */
  readonly vcpus?: number;
  /** Memory per child, MiB (a Fargate size for `vcpus`). @default 8192 */
  readonly memoryMiB?: number;
  /** Children running at once = maxVcpus / vcpus. @default 64 */
  readonly maxVcpus?: number;
  /** One child's limit. @default 6 hours */
  readonly jobTimeout?: Duration;
  /** Container and execution logs. @default one week */
  readonly logRetention?: logs.RetentionDays;
}

export class RetagWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly jobQueue: batch.JobQueue;
  public readonly jobDefinition: batch.EcsJobDefinition;
  public readonly jobDefinitionName: string;
  public readonly jobRole: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly partitions: number;

  constructor(scope: Construct, id: string, props: RetagWorkflowProps) {
    super(scope, id);
    const { storage, network } = props;
    const vcpus = props.vcpus ?? 4;
    this.partitions = props.partitions ?? 16;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_WEEK });

    const environment = new batch.FargateComputeEnvironment(this, 'Fargate', {
      vpc: network.vpc,
      vpcSubnets: network.workerSubnets,
      securityGroups: [network.workerSecurityGroup],
      spot: false,
      maxvCpus: props.maxVcpus ?? 64,
    });
    this.jobQueue = new batch.JobQueue(this, 'Queue', { priority: 1, computeEnvironments: [{ computeEnvironment: environment, order: 1 }] });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Vista retag job: rewrites tags in the LanceDB store from stored embeddings; reads the model and taxonomies',
    });
    grantObjects(
      this.jobRole,
      storage.vectorBucket,
      { read: [`${STORAGE_LAYOUT.db}/*`], write: [`${STORAGE_LAYOUT.db}/*`], delete: [`${STORAGE_LAYOUT.db}/*`] },
      { why: 'The retag job reads the images table and commits re-tagged rows and its ledger' },
    );
    grantObjects(
      this.jobRole,
      storage.artifactsBucket,
      {
        read: [`${props.modelPath.replace(/\/+$/, '')}/*`, `${STORAGE_LAYOUT.taxonomies}/*`, `${STORAGE_LAYOUT.labelBanks}/*`],
        write: [`${STORAGE_LAYOUT.labelBanks}/*`],
      },
      { why: 'The retag job loads the model (text tower only) and the taxonomy, and caches the label bank like the workers' },
    );

    const container = new batch.EcsFargateContainerDefinition(this, 'Retagger', {
      image: props.image,
      cpu: vcpus,
      memory: Size.mebibytes(props.memoryMiB ?? 8_192),
      command: [
        'node', 'bin/vista.js', 'retag', '--json',
        '--db', storage.dbUri,
        '--model', storage.modelUri(props.modelPath),
        '--cache', storage.artifactsUri,
        '--taxonomy', `Ref::${RETAG_PARAMETER.taxonomy}`,
        '--partitions', `Ref::${RETAG_PARAMETER.partitions}`,
      ],
      jobRole: this.jobRole,
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'retag' }),
      assignPublicIp: false,
      environment: { AWS_REGION: Aws.REGION },
    });
    allowWildcards(container.executionRole, [
      { match: { finding: /^Resource::\*$/ }, reason: 'ecr:GetAuthorizationToken has no resource-level permissions (pulling the worker image).' },
    ]);
    this.jobDefinitionName = `${Stack.of(this).stackName}-retag`;
    this.jobDefinition = new batch.EcsJobDefinition(this, 'Job', {
      jobDefinitionName: this.jobDefinitionName,
      container,
      retryAttempts: 3,
      // Host failures, image pulls and exit 1 are retried; a bad taxonomy (exit 2) is not, 16 times over.
      retryStrategies: workerRetryStrategies(),
      timeout: props.jobTimeout ?? Duration.hours(6),
      propagateTags: true,
    });

    const revisions = jobDefinitionRevisions(this.jobDefinition.jobDefinitionArn, this.jobDefinitionName);
    const submit = (stepId: string, partitions: number, arraySize?: number) =>
      new BatchRunJob(this, stepId, revisions, {
        jobName: `retag-${stepId.toLowerCase()}`,
        jobQueueArn: this.jobQueue.jobQueueArn,
        jobDefinitionArn: this.jobDefinition.jobDefinitionArn,
        arraySize,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        payload: sfn.TaskInput.fromObject({
          [RETAG_PARAMETER.taxonomy]: sfn.JsonPath.stringAt('$.taxonomyUri'),
          [RETAG_PARAMETER.partitions]: String(partitions),
        }),
        resultPath: sfn.JsonPath.DISCARD,
      });
    // RetagReport re-tags whatever shard a child left undone: it runs after a failed array job too.
    const report = submit('RetagReport', 1);
    const shards = submit('RetagShards', this.partitions, this.partitions > 1 ? this.partitions : undefined);
    shards.addCatch(report, { errors: [sfn.Errors.ALL], resultPath: '$.shardsFailure' });
    const definition = shards.next(report);

    const executionLogs = new logs.LogGroup(this, 'ExecutionLogs', {
      // The /aws/vendedlogs/ prefix keeps Step Functions' log delivery policy small.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-retag`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      logs: { destination: executionLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // Region and account are tokens, or literals in a stack with an explicit env.
    const arn = (service: string, resource: string) => new RegExp(`^Resource::arn:(<AWS::Partition>|aws[a-z-]*):${service}:.+:${resource}$`);
    allowWildcards(this.stateMachine, [
      {
        match: { finding: /^Resource::\*$/ },
        reason: 'batch:DescribeJobs (polled by submitJob.sync), Step Functions log delivery and X-Ray actions have no resource-level permissions.',
      },
      {
        match: { finding: arn('batch', 'job-definition/.*') },
        reason: 'SubmitJob on every revision (`:*`) of the retag job definition only, to the retag queue only.',
      },
      {
        match: { finding: arn('batch', 'job/\\*') },
        reason: 'TerminateJob on jobs: their ids are not known before submission (stopping an execution cancels its array job).',
      },
      {
        match: { finding: arn('events', 'rule/StepFunctionsGetEventsForBatchJobsRule') },
        reason: 'The managed events rule of the submitJob.sync integration.',
      },
    ]);
  }
}
