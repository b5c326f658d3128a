/**
 * The GPU side of the backfill: managed EC2 compute environments of single-GPU instances (Spot
 * first, On-Demand as the queue's fallback), one job queue, and the worker's job definition: the
 * container from batch-worker/Dockerfile, 1 GPU, a retry strategy that retries what a retry can
 * fix (Spot reclaims, host failures, worker crashes) and stops on everything else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, Duration, IgnoreMode, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BATCH_ENV } from '../../core/pipeline/batch-job';
import type { InfraConfig } from '../config';
import { allowWildcards, suppress } from '../nag';
import type { VistaNetwork } from '../network';
import { REPO_ROOT } from '../paths';
import { grantObjects } from '../s3-access';
import { STORAGE_LAYOUT, type VistaStorage } from '../storage';
import { stuckJobActions } from './job-queue-limits';
import { workerRetryStrategies } from './retry';

export type ComputeConfig = Pick<
  InfraConfig,
  | 'instanceTypes'
  | 'gpuAmi'
  | 'capacityWaitMinutes'
  | 'spot'
  | 'spotBidPercentage'
  | 'onDemandFallback'
  | 'maxVcpus'
  | 'onDemandMaxVcpus'
  | 'rootVolumeGiB'
  | 'jobVcpus'
  | 'jobMemoryMiB'
  | 'jobTimeoutMinutes'
  | 'jobAttempts'
  | 'batchSize'
  | 'modelPath'
  | 'taxonomyPath'
  | 'sourcePrefix'
  | 'logRetentionDays'
>;

export interface BackfillComputeProps {
  readonly config: ComputeConfig;
  readonly network: VistaNetwork;
  readonly storage: VistaStorage;
}

export const WORKER_DOCKERFILE = 'batch-worker/Dockerfile';

/** The Docker context is the repository root, narrowed by batch-worker/.dockerignore. */
export function workerDockerIgnore(): string[] {
  return fs
    .readFileSync(path.join(REPO_ROOT, 'batch-worker', '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export class BackfillCompute extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  /** Name of the worker job definition (its revisions are `job-definition/<name>:<n>`). */
  readonly jobDefinitionName: string;
  /** The worker image (batch-worker/Dockerfile), also run by the Batch index job. */
  readonly image: ecs.ContainerImage;
  /** What the worker container may do (S3 prefixes only). */
  readonly jobRole: iam.Role;
  /** In queue order: Spot first (when enabled), then On-Demand. */
  readonly computeEnvironments: batch.ManagedEc2EcsComputeEnvironment[] = [];
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BackfillComputeProps) {
    super(scope, id);
    const { config, storage } = props;

    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Vista GPU instances: the ECS agent (register, pull the worker image, ship logs)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });
    suppress(
      instanceRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      'The AWS-maintained policy for ECS container instances, kept current by AWS as the ECS agent evolves. Jobs do not use it: they run with their own job role, and IMDSv2 is required.',
    );

    const launchTemplate = new ec2.LaunchTemplate(this, 'GpuInstances', {
      requireImdsv2: true,
      // One hop: the ECS agent (host network) reaches the instance metadata service, bridge-mode
      // job containers cannot, so a worker only ever holds its job role, never the instance role.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          // The CUDA image alone is several GiB; the AMI's default root volume is tight for it.
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(config.rootVolumeGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }),
        },
      ],
    });

    const environment = (id: string, spot: boolean, maxvCpus: number) =>
      new batch.ManagedEc2EcsComputeEnvironment(this, id, {
        vpc: props.network.vpc,
        vpcSubnets: props.network.workerSubnets,
        securityGroups: [props.network.workerSecurityGroup],
        spot,
        ...(spot
          ? { allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED, spotBidPercentage: config.spotBidPercentage }
          : { allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE }),
        instanceTypes: config.instanceTypes.map((t) => new ec2.InstanceType(t)),
        useOptimalInstanceClasses: false,
        images: [{ imageType: batch.EcsMachineImageType[config.gpuAmi] }],
        updateToLatestImageVersion: true,
        launchTemplate,
        instanceRole,
        minvCpus: 0,
        maxvCpus,
      });
    if (config.spot) this.computeEnvironments.push(environment('Spot', true, config.maxVcpus));
    if (config.onDemandFallback || !config.spot) {
      this.computeEnvironments.push(environment('OnDemand', false, config.spot ? config.onDemandMaxVcpus : config.maxVcpus));
    }

    this.jobQueue = new batch.JobQueue(this, 'Queue', {
      priority: 1,
      computeEnvironments: this.computeEnvironments.map((computeEnvironment, i) => ({ computeEnvironment, order: i + 1 })),
      jobStateTimeLimitActions: stuckJobActions(config.capacityWaitMinutes),
    });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Vista worker container: reads source images, its shard and the model; writes only its results and the label-bank cache',
    });
    this.grantWorkerAccess(config, storage);

    this.logGroup = new logs.LogGroup(this, 'WorkerLogs', { retention: config.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    this.image = ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: WORKER_DOCKERFILE,
      exclude: workerDockerIgnore(),
      ignoreMode: IgnoreMode.DOCKER,
      platform: Platform.LINUX_AMD64,
    });
    const container = new batch.EcsEc2ContainerDefinition(this, 'Worker', {
      image: this.image,
      cpu: config.jobVcpus,
      memory: Size.mebibytes(config.jobMemoryMiB),
      gpu: 1,
      jobRole: this.jobRole,
      logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'worker' }),
      // Defaults; the state machine overrides the per-run ones (shards, results, count, model).
      environment: {
        AWS_REGION: Aws.REGION,
        [BATCH_ENV.provider]: 'cuda',
        [BATCH_ENV.batchSize]: String(config.batchSize),
        [BATCH_ENV.modelUri]: storage.modelUri(config.modelPath),
        [BATCH_ENV.artifactsUri]: storage.artifactsUri,
        ...(config.taxonomyPath ? { [BATCH_ENV.taxonomyUri]: `${storage.artifactsUri}/${config.taxonomyPath}` } : {}),
        // sharp's decoding and fs reads share libuv's pool: one thread per vCPU plus headroom.
        UV_THREADPOOL_SIZE: String(config.jobVcpus + 2),
      },
    });
    const executionRole = container.executionRole;
    allowWildcards(executionRole, [
      { match: { finding: /^Resource::\*$/ }, reason: 'ecr:GetAuthorizationToken has no resource-level permissions (pulling the worker image).' },
    ]);

    // Named, so that the state machine may submit its revisions only (job-definition/<name>:*).
    this.jobDefinitionName = `${Stack.of(this).stackName}-worker`;
    this.jobDefinition = new batch.EcsJobDefinition(this, 'WorkerJob', {
      jobDefinitionName: this.jobDefinitionName,
      container,
      retryAttempts: config.jobAttempts,
      retryStrategies: workerRetryStrategies(),
      timeout: Duration.minutes(config.jobTimeoutMinutes),
      propagateTags: true,
    });
  }

  private grantWorkerAccess(config: ComputeConfig, storage: VistaStorage): void {
    const runs = `${STORAGE_LAYOUT.work}/runs/*`;
    grantObjects(this.jobRole, storage.sourceBucket, { read: [`${config.sourcePrefix}*`] }, {
      key: storage.sourceKey,
      why: 'Workers read the source images listed in their shard',
    });
    grantObjects(this.jobRole, storage.workBucket, { read: [`${runs}/shards/*`, `${runs}/results/*`], write: [`${runs}/results/*`], delete: [`${runs}/results/*`] }, {
      why: "A worker reads its shard, writes its results, reads them back to resume after a Spot reclaim, and removes a part's rows an earlier attempt left when the part now has none",
    });
    const labelBanks = `${STORAGE_LAYOUT.labelBanks}/*`;
    grantObjects(
      this.jobRole,
      storage.artifactsBucket,
      { read: [`${STORAGE_LAYOUT.models}/*`, `${STORAGE_LAYOUT.taxonomies}/*`, labelBanks], write: [labelBanks] },
      { why: 'Workers read the model and taxonomy, and share the label-bank cache' },
    );
  }
}
