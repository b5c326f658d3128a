/**
 * The Batch `.sync` task both state machines use (the backfill's waves and index job, the retag's
 * array job), with the permissions AWS documents for that integration, scoped.
 */
import { type Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * `job-definition/<name>:*`: every revision of one job definition, as an ARN with the stack's
 * partition, region and account (or the literal ARN's, for the local definition).
 */
export function jobDefinitionRevisions(jobDefinitionArn: string, name: string | undefined): { name: string } | { literal: string } {
  if (name !== undefined) return { name };
  if (Token.isUnresolved(jobDefinitionArn)) {
    throw new Error('BatchRunJob: pass jobDefinitionName with a jobDefinitionArn that is a token');
  }
  return { literal: `${jobDefinitionArn.replace(/:\d+$/, '')}:*` };
}

/**
 * BatchSubmitJob (.sync) with the permissions AWS documents for the Batch `.sync` integration,
 * scoped. CDK's task grants SubmitJob on every job definition of the account and region, and
 * neither batch:DescribeJobs nor batch:TerminateJob: without TerminateJob, stopping or timing
 * out an execution leaves its (array) job running. Here:
 *  - SubmitJob on the revisions of the one job definition and the one queue;
 *  - TerminateJob on jobs (`job/*`: job ids are not known before submission);
 *  - DescribeJobs on `*` (it has no resource-level permissions);
 *  - CDK's own events:PutRule/PutTargets/DescribeRule on the managed Batch events rule.
 */
export class BatchRunJob extends tasks.BatchSubmitJob {
  /**
   * The state's own TimeoutSeconds. Not BatchSubmitJob's `taskTimeout`: that one becomes the
   * submitted job's attempt timeout, which would replace the job definition's.
   */
  private readonly stateTimeout?: Duration;

  constructor(
    scope: Construct,
    id: string,
    jobDefinition: { name: string } | { literal: string },
    props: tasks.BatchSubmitJobProps,
    stateTimeout?: Duration,
  ) {
    super(scope, id, props);
    this.stateTimeout = stateTimeout;
    const stack = Stack.of(this);
    const batchArn = (resource: string, resourceName: string) => stack.formatArn({ service: 'batch', resource, resourceName });
    const revisions = 'name' in jobDefinition ? batchArn('job-definition', `${jobDefinition.name}:*`) : jobDefinition.literal;
    const inherited = (this.taskPolicies ?? []).filter((statement) => !statement.actions.some((a) => a.startsWith('batch:')));
    // Read by whenBoundToGraph() when the state machine is built, after this constructor.
    (this as unknown as { taskPolicies: iam.PolicyStatement[] }).taskPolicies = [
      new iam.PolicyStatement({ actions: ['batch:SubmitJob'], resources: [revisions, props.jobQueueArn] }),
      new iam.PolicyStatement({ actions: ['batch:TerminateJob'], resources: [batchArn('job', '*')] }),
      new iam.PolicyStatement({ actions: ['batch:DescribeJobs'], resources: ['*'] }),
      ...inherited,
    ];
  }

  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): Record<string, unknown> {
    const rendered = super._renderTask(topLevelQueryLanguage) as Record<string, unknown>;
    return this.stateTimeout ? { ...rendered, TimeoutSeconds: this.stateTimeout.toSeconds() } : rendered;
  }
}
