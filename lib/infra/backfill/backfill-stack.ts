/**
 * The backfill stack: storage + network + GPU compute + the four Lambdas + the Batch index job
 * (Fargate, for tables too big for the index Lambda) + the state machine (BackfillWorkflow) +
 * dashboard and alarms. Environment-agnostic unless the config pins an
 * account/region, and free of lookups: `cdk synth` needs neither credentials nor Docker.
 */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import { allowWildcards } from '../nag';
import { PROJECT_TAG, VistaBudget } from '../cost';
import { VistaNetwork } from '../network';
import { BackfillObservability } from '../observability';
import { VistaStorage } from '../storage';
import { BackfillCompute } from './compute';
import { BackfillFunctions } from './functions';
import { IndexJobCompute } from './index-job';
import { JobQueueWatch } from './queue-watch';
import { RetagWorkflow } from '../retag/retag-workflow';
import { BackfillWorkflow } from './workflow';

export interface BackfillStackProps extends StackProps {
  readonly config: InfraConfig;
}

export class BackfillStack extends Stack {
  readonly storage: VistaStorage;
  readonly network: VistaNetwork;
  readonly compute: BackfillCompute;
  readonly functions: BackfillFunctions;
  readonly indexJob: IndexJobCompute;
  /** Re-tags the store from stored embeddings with a new taxonomy (docs/catalog.md). */
  readonly retag: RetagWorkflow;
  readonly workflow: BackfillWorkflow;
  /** Measures how long the GPU and index queues' jobs wait RUNNABLE, for the stuck-queue alarms. */
  readonly queueWatch: JobQueueWatch;
  readonly observability: BackfillObservability;

  constructor(scope: Construct, id: string, props: BackfillStackProps) {
    const { config } = props;
    const env = config.account || config.region ? { account: config.account, region: config.region } : undefined;
    super(scope, id, { description: 'Vista backfill: GPU enrichment of an image catalog into LanceDB', ...props, env: props.env ?? env });

    this.storage = new VistaStorage(this, 'Storage', config);
    this.network = new VistaNetwork(this, 'Network', {
      config,
      logsBucket: this.storage.logsBucket,
      writableBuckets: [this.storage.workBucket, this.storage.vectorBucket, this.storage.artifactsBucket],
      readableBuckets: [this.storage.sourceBucket],
    });
    this.compute = new BackfillCompute(this, 'Compute', { config, network: this.network, storage: this.storage });
    this.functions = new BackfillFunctions(this, 'Functions', { config, storage: this.storage });
    this.indexJob = new IndexJobCompute(this, 'IndexJob', {
      config,
      network: this.network,
      storage: this.storage,
      image: this.compute.image,
      logGroup: this.compute.logGroup,
    });

    this.retag = new RetagWorkflow(this, 'Retag', {
      storage: this.storage,
      network: this.network,
      image: this.compute.image,
      modelPath: config.modelPath,
    });

    const executionLogs = new logs.LogGroup(this, 'WorkflowLogs', {
      // The /aws/vendedlogs/ prefix keeps Step Functions' log delivery policy small.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-backfill`,
      retention: config.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.workflow = new BackfillWorkflow(this, 'Workflow', {
      shardFunction: this.functions.shard,
      loadFunction: this.functions.load,
      indexFunction: this.functions.index,
      reportFunction: this.functions.report,
      jobQueueArn: this.compute.jobQueue.jobQueueArn,
      jobDefinitionArn: this.compute.jobDefinition.jobDefinitionArn,
      jobDefinitionName: this.compute.jobDefinitionName,
      // Compaction + indexing of a table this big outlasts the index Lambda's 15 minutes.
      indexJob: {
        jobQueueArn: this.indexJob.jobQueue.jobQueueArn,
        jobDefinitionArn: this.indexJob.jobDefinition.jobDefinitionArn,
        jobDefinitionName: this.indexJob.jobDefinitionName,
        minRows: this.indexJob.minRows,
      },
      // Attempts stay with the job definition: a SubmitJob-level retry strategy would replace
      // its evaluateOnExit rules, and then every failure would be retried.
      loadConcurrency: config.loadConcurrency,
      logs: { destination: executionLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    this.allowWorkflowWildcards();

    this.queueWatch = new JobQueueWatch(this, 'QueueWatch', {
      queues: [this.compute.jobQueue, this.indexJob.jobQueue],
      logRetention: config.logRetentionDays as logs.RetentionDays,
    });
    this.observability = new BackfillObservability(this, 'Observability', {
      config,
      stateMachine: this.workflow.stateMachine,
      functions: { ...this.functions.all, queueWatch: this.queueWatch.fn },
      jobQueue: this.compute.jobQueue,
      watchedQueues: { gpu: this.compute.jobQueue, indexJob: this.indexJob.jobQueue },
    });
    // One budget for both stacks (it counts the Project tag, which the serving stack carries too).
    if (config.budgetMonthlyUsd > 0) new VistaBudget(this, 'Budget', { config, budgetName: `${this.stackName}-monthly`, tag: PROJECT_TAG });

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('StateMachineArn', this.workflow.stateMachine.stateMachineArn, 'The backfill state machine (aws stepfunctions start-execution --state-machine-arn ...)');
    output('ManifestsUri', this.storage.manifestsUri, 'Upload manifests here (the shard step reads only this prefix)');
    output('WorkUri', this.storage.workUri, 'workUri of an execution');
    output('DbUri', this.storage.dbUri, 'dbUri of an execution (the LanceDB database)');
    output('ModelUri', this.storage.modelUri(config.modelPath), 'Default model folder: aws s3 sync your export here');
    output('ArtifactsBucket', this.storage.artifactsBucket.bucketName, 'Models, taxonomies, label banks');
    output('SourceBucket', this.storage.sourceBucket.bucketName, 'Source images (read-only to Vista)');
    output('JobQueue', this.compute.jobQueue.jobQueueName, 'AWS Batch queue of the GPU workers');
    output('IndexJobQueue', this.indexJob.jobQueue.jobQueueName, `AWS Batch queue of the index job (tables of ${config.indexJobMinRows}+ rows)`);
    output('WorkerJobRoleArn', this.compute.jobRole.roleArn, 'Role of the worker containers (for a cross-account source bucket policy)');
    output('WorkerLogGroup', this.compute.logGroup.logGroupName, 'Worker container logs (and EMF metrics)');
    output('RetagStateMachineArn', this.retag.stateMachine.stateMachineArn, 'Re-tags the store from stored embeddings: start with {"taxonomyUri": "s3://…"}');
    output('DashboardName', this.observability.dashboard.dashboardName, 'CloudWatch dashboard');
  }

  /** The state machine role's wildcards are generated by CDK for the integrations it uses. */
  private allowWorkflowWildcards(): void {
    const arn = (service: string, resource: string) => new RegExp(`^Resource::arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}$`);
    allowWildcards(this.workflow, [
      {
        match: { finding: /^Resource::\*$/ },
        reason:
          'batch:DescribeJobs (polled by submitJob.sync), Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, ...) and X-Ray tracing actions have no resource-level permissions.',
      },
      {
        match: { finding: /^Resource::<Functions[A-Za-z0-9]+\.Arn>:\*$/ },
        reason: 'Invoking a backfill function includes its versions and aliases (the function ARN suffixed with :*), nothing else.',
      },
      ...[this.compute.jobDefinitionName, this.indexJob.jobDefinitionName].map((name) => ({
        match: { finding: arn('batch', `job-definition/${name}:\\*`) },
        reason: `SubmitJob on the revisions of the ${name} job definition only (a new revision is registered on every deploy).`,
      })),
      {
        match: { finding: arn('batch', 'job/\\*') },
        reason: 'batch:TerminateJob, for the submitJob.sync integration to cancel its job when an execution is stopped or times out; job ids are not known before submission.',
      },
      {
        match: { finding: arn('states', 'execution:.*WorkflowStateMachine.*:\\*') },
        reason: 'The Load distributed map starts, describes and stops the child executions of this state machine (its execution ARNs).',
      },
    ]);
  }
}
