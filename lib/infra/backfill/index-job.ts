/**
 * The Batch index job: compaction and index building of an images table too big for the index
 * Lambda's 15 minutes (the index step hands over from `indexJobMinRows` rows on, ≈ 1M: measured,
 * lib/core/backfill/index-step.ts). CPU only, on an On-Demand EC2 compute environment of
 * memory-optimised instances (r7i.16xlarge by default: 64 vCPUs, 512 GiB) with a large gp3 root
 * volume for LanceDB's spill files, sized for 500M × 512 float16 — Fargate stops at 16 vCPUs /
 * 120 GiB / 200 GiB of disk. Instances start for the job and go (minvCpus 0). It runs in the
 * workers' subnets, from the worker image with the command `vista backfill index --from-env`
 * (VISTA_DB_URI). Its role reads and writes the LanceDB prefix `db/*` exactly like the load and
 * index functions, and nothing else.
 *
 * The queue's compute environment holds one job at a time (maxvCpus = the job's vCPUs), and the
 * build takes the store's writer lease (lib/core/store/writer-lease.ts): a second run's index
 * job waits RUNNABLE instead of compacting the same store concurrently.
 */
import { Aws, Duration, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { INDEX_JOB_COMMAND, INDEX_JOB_DB_ENV } from '../../core/backfill/state-names';
import type { InfraConfig } from '../config';
import { allowWildcards, suppress } from '../nag';
import { stuckJobActions } from './job-queue-limits';
import type { VistaNetwork } from '../network';
import { grantObjects } from '../s3-access';
import { STORAGE_LAYOUT, type VistaStorage } from '../storage';

export type IndexJobConfig = Pick<
  InfraConfig,
  'indexJobMinRows' | 'indexJobInstanceTypes' | 'indexJobVcpus' | 'indexJobMemoryMiB' | 'indexJobStorageGiB' | 'indexJobTimeoutMinutes' | 'capacityWaitMinutes'
>;

export interface IndexJobComputeProps {
  readonly config: IndexJobConfig;
  readonly network: VistaNetwork;
  readonly storage: VistaStorage;
  /** The worker image (the CLI and LanceDB are in it). */
  readonly image: ecs.ContainerImage;
  /** Container logs go here, under the `index` stream prefix. */
  readonly logGroup: logs.ILogGroup;
}

/**
 * Retries for the index job: instance start-up and image-pull hiccups, and exit code 1 (the CLI's
 * generic failure, e.g. an S3 outage past the SDK's retries). Out of memory (137), bad arguments
 * (2) and the timeout would fail again the same way.
 */
const INDEX_RETRY_RULES: { action: batch.Action; on: batch.CustomReason }[] = [
  { action: batch.Action.RETRY, on: { onReason: 'CannotPullContainerError*' } },
  { action: batch.Action.RETRY, on: { onReason: 'ResourceInitializationError*' } },
  { action: batch.Action.RETRY, on: { onReason: 'CannotStartContainerError*' } },
  { action: batch.Action.RETRY, on: { onExitCode: '1' } },
  { action: batch.Action.EXIT, on: { onReason: '*' } },
];

export class IndexJobCompute extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  /** Name of the job definition (its revisions are `job-definition/<name>:<n>`). */
  readonly jobDefinitionName: string;
  readonly jobRole: iam.Role;
  /** Tables with at least this many rows go to the job. */
  readonly minRows: number;

  constructor(scope: Construct, id: string, props: IndexJobComputeProps) {
    super(scope, id);
    const { config, storage, network } = props;
    this.minRows = config.indexJobMinRows;

    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Vista index instances: the ECS agent (register, pull the worker image, ship logs)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });
    suppress(
      instanceRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      'The AWS-maintained policy for ECS container instances, kept current by AWS as the ECS agent evolves. The job runs with its own job role, and IMDSv2 is required.',
    );
    const launchTemplate = new ec2.LaunchTemplate(this, 'IndexInstances', {
      requireImdsv2: true,
      // One hop: the job container (bridge mode) cannot reach the instance role's credentials.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          // The worker image plus LanceDB's spill files (index training, partition shuffle).
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(config.indexJobStorageGiB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }),
        },
      ],
    });
    const environment = new batch.ManagedEc2EcsComputeEnvironment(this, 'Ec2', {
      vpc: network.vpc,
      vpcSubnets: network.workerSubnets,
      securityGroups: [network.workerSecurityGroup],
      spot: false,
      allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      instanceTypes: config.indexJobInstanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023 }],
      updateToLatestImageVersion: true,
      launchTemplate,
      instanceRole,
      minvCpus: 0,
      // One index job at a time: two runs must not compact one store at once (docs/deploy.md).
      maxvCpus: config.indexJobVcpus,
    });
    this.jobQueue = new batch.JobQueue(this, 'Queue', {
      priority: 1,
      computeEnvironments: [{ computeEnvironment: environment, order: 1 }],
      jobStateTimeLimitActions: stuckJobActions(config.capacityWaitMinutes),
    });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Vista Batch index job: compacts and indexes the LanceDB store (db/ prefix of the vector-store bucket only)',
    });
    grantObjects(
      this.jobRole,
      storage.vectorBucket,
      { read: [`${STORAGE_LAYOUT.db}/*`], write: [`${STORAGE_LAYOUT.db}/*`], delete: [`${STORAGE_LAYOUT.db}/*`] },
      { why: 'The index job reads the LanceDB tables, commits compacted fragments and indexes, and cleans up old files' },
    );

    const container = new batch.EcsEc2ContainerDefinition(this, 'Indexer', {
      image: props.image,
      cpu: config.indexJobVcpus,
      memory: Size.mebibytes(config.indexJobMemoryMiB),
      command: INDEX_JOB_COMMAND,
      jobRole: this.jobRole,
      logging: ecs.LogDriver.awsLogs({ logGroup: props.logGroup, streamPrefix: 'index' }),
      environment: {
        AWS_REGION: Aws.REGION,
        // The state machine passes the execution's dbUri; this is the deployed store.
        [INDEX_JOB_DB_ENV]: storage.dbUri,
        UV_THREADPOOL_SIZE: String(config.indexJobVcpus + 2),
      },
    });
    allowWildcards(container.executionRole, [
      { match: { finding: /^Resource::\*$/ }, reason: 'ecr:GetAuthorizationToken has no resource-level permissions (pulling the worker image).' },
    ]);

    this.jobDefinitionName = `${Stack.of(this).stackName}-index`;
    this.jobDefinition = new batch.EcsJobDefinition(this, 'Job', {
      jobDefinitionName: this.jobDefinitionName,
      container,
      retryAttempts: 2,
      retryStrategies: INDEX_RETRY_RULES.map(({ action, on }) => batch.RetryStrategy.of(action, batch.Reason.custom(on))),
      timeout: Duration.minutes(config.indexJobTimeoutMinutes),
      propagateTags: true,
    });
  }
}
