/**
 * The locked-down network and the cost controls (issue 12 item 6), synthesized as bin/app.ts does
 * with a budget, an alarm email and a cost centre tag: VPC endpoint policies, the SageMaker
 * endpoint in the private subnets, cost allocation tags on every resource, the budget, cdk-nag.
 */
import { describeFindings, logicalId } from './support/synth';
import { flatCrossStack as flat, synthVista, type SynthesizedApp } from './support/synth-vista';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthVista({ budgetMonthlyUsd: '500', alarmEmail: 'ops@example.com', costTags: 'CostCenter=hotels-42' });
});
afterAll(() => synth?.cleanup());

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const endpoints = (): Json[] => Object.values(synth.backfill.findResources('AWS::EC2::VPCEndpoint'));
const bucketId = (prefix: string) => logicalId(synth.backfill, 'AWS::S3::Bucket', prefix);

describe('S3 gateway endpoint policy', () => {
  const statements = (): Json[] => endpoints().find((e) => e.Properties.VpcEndpointType === 'Gateway')!.Properties.PolicyDocument.Statement;

  it('admits writes to the stack\'s own work, vector-store and artifacts buckets only', () => {
    const writes = statements().filter((s) => list(s.Action).some((a) => ['s3:PutObject', 's3:DeleteObject'].includes(a as string)));
    expect(writes).toHaveLength(1);
    const targets = list(writes[0].Resource).map((r) => JSON.stringify(r));
    expect(targets).toHaveLength(3);
    for (const prefix of ['StorageWork', 'StorageVectorStore', 'StorageArtifacts']) expect(targets.some((t) => t.includes(bucketId(prefix)))).toBe(true);
    expect(writes[0].Condition).toEqual({ StringEquals: { 'aws:PrincipalAccount': { Ref: 'AWS::AccountId' } } });
    // No statement of the endpoint allows anything but reads on `*`.
    for (const s of statements().filter((x) => list(x.Resource).includes('*'))) {
      expect(list(s.Action).every((a) => ['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'].includes(a as string))).toBe(true);
      expect(s.Condition.StringEquals['s3:ResourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    }
  });

  it('reads the source bucket and ECR\'s layer bucket (image pulls) by name', () => {
    const reads = statements().find((s) => s.Sid === 'ReadSourceAndEcrLayers')!;
    const targets = list(reads.Resource).map((r) => JSON.stringify(r));
    expect(targets.some((t) => t.includes(bucketId('StorageSource')))).toBe(true);
    expect(targets.some((t) => t.includes('-starport-layer-bucket/*'))).toBe(true);
    expect(list(reads.Action)).not.toContain('s3:PutObject');
  });
});

it('limits every interface endpoint to callers and resources of this account', () => {
  const interfaces = endpoints().filter((e) => e.Properties.VpcEndpointType === 'Interface');
  expect(interfaces).toHaveLength(7);
  for (const e of interfaces) {
    expect(e.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Condition: { StringEquals: { 'aws:PrincipalAccount': { Ref: 'AWS::AccountId' } }, StringEqualsIfExists: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
  }
});

describe('SageMaker endpoint', () => {
  const model = (): Json => Object.values(synth.serving.findResources('AWS::SageMaker::Model'))[0] as Json;

  it('runs in the backfill VPC\'s private subnets with the workers\' security group, network isolation off (the container reads S3 itself)', () => {
    const vpc = model().Properties.VpcConfig;
    expect(vpc.Subnets.map(flat)).toEqual([expect.stringMatching(/^<backfill:NetworkVpcworkersSubnet1/), expect.stringMatching(/^<backfill:NetworkVpcworkersSubnet2/)]);
    expect(vpc.SecurityGroupIds.map(flat)).toEqual([expect.stringContaining('NetworkWorkers')]);
    expect(model().Properties.EnableNetworkIsolation).toBe(false);
    const subnets = Object.entries(synth.backfill.findResources('AWS::EC2::Subnet'));
    expect(subnets.every(([, s]) => (s as Json).Properties.MapPublicIpOnLaunch !== true)).toBe(true);
    expect(Object.keys(synth.backfill.findResources('AWS::EC2::InternetGateway'))).toEqual([]);
  });

  it('may create its network interfaces, and write no bucket at all', () => {
    const role = logicalId(synth.serving, 'AWS::IAM::Role', 'InferenceRole');
    const statements = (Object.values(synth.serving.findResources('AWS::IAM::Policy')) as Json[])
      .filter((p) => p.Properties.Roles.map(flat).includes(`<${role}>`))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    expect(statements.flatMap((s) => list(s.Action))).toEqual(expect.arrayContaining(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface']));
    expect(statements.flatMap((s) => list(s.Action)).filter((a) => /^s3:(Put|Delete)/.test(a as string))).toEqual([]);
  });
});

describe('cost controls', () => {
  it('tags every resource that takes tags with the project, its stack and the configured tags', () => {
    for (const [template, stackName] of [[synth.backfill, 'VistaBackfill'], [synth.serving, 'VistaServing']] as const) {
      const tagged = Object.entries(template.toJSON().Resources as Json).filter(([, r]) => Array.isArray((r as Json).Properties?.Tags));
      expect(tagged.length).toBeGreaterThan(10);
      for (const [id, r] of tagged) {
        const tags = Object.fromEntries(((r as Json).Properties.Tags as Json[]).map((t) => [t.Key, t.Value]));
        expect({ id, ...tags }).toMatchObject({ id, Project: 'Vista', VistaStack: stackName, CostCenter: 'hotels-42' });
      }
    }
    // Batch compute environments and job queues take tags as a map.
    const environments = Object.values(synth.backfill.findResources('AWS::Batch::ComputeEnvironment')) as Json[];
    expect(environments.length).toBeGreaterThan(0);
    for (const e of environments) expect(e.Properties.Tags).toMatchObject({ Project: 'Vista', CostCenter: 'hotels-42' });
  });

  it('adds a monthly budget over the Project tag that emails at 80 % actual and 100 % forecast', () => {
    const budgets = Object.values(synth.backfill.findResources('AWS::Budgets::Budget')) as Json[];
    expect(budgets).toHaveLength(1);
    const { Budget, NotificationsWithSubscribers } = budgets[0].Properties;
    expect(Budget).toMatchObject({ BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 500, Unit: 'USD' }, CostFilters: { TagKeyValue: ['user:Project$Vista'] } });
    expect(NotificationsWithSubscribers.map((n: Json) => [n.Notification.NotificationType, n.Notification.Threshold])).toEqual([['ACTUAL', 80], ['FORECASTED', 100]]);
    for (const n of NotificationsWithSubscribers) expect(n.Subscribers).toEqual([{ SubscriptionType: 'EMAIL', Address: 'ops@example.com' }]);
  });

  it('notifies the alarm email from the alarms of both stacks', () => {
    const subscriptions = Object.values(synth.backfill.findResources('AWS::SNS::Subscription')) as Json[];
    expect(subscriptions.map((s) => [s.Properties.Protocol, s.Properties.Endpoint])).toEqual([['email', 'ops@example.com']]);
    const servingAlarms = Object.values(synth.serving.findResources('AWS::CloudWatch::Alarm')) as Json[];
    expect(servingAlarms.length).toBeGreaterThan(0);
    for (const a of servingAlarms) expect(a.Properties.AlarmActions.map(flat)).toEqual([expect.stringMatching(/^<backfill:ObservabilityAlarmTopic/)]);
  });
});

it('passes cdk-nag\'s AWS Solutions checks', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
