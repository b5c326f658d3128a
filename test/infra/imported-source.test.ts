/**
 * The configuration of a team whose images already sit in an SSE-KMS bucket: the bucket is
 * imported (read-only, never modified), Vista's own buckets use a customer-managed key, workers
 * leave through a NAT gateway, alarms notify an email address.
 */
import { BackfillState } from '../../lib/core/backfill/state-names';
import { describeFindings, flat, logicalId, statementsOfRole, synthBackfill, type Synthesized } from './support/synth';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SOURCE = 'hotel-images-prod';
const SOURCE_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const sourceArn = `arn:<AWS::Partition>:s3:::${SOURCE}`;

let synth: Synthesized;
beforeAll(() => {
  synth = synthBackfill(
    {
      sourceBucketName: SOURCE,
      sourceKmsKeyArn: SOURCE_KEY,
      sourcePrefix: 'images/',
      encryption: 'KMS',
      egress: 'nat',
      alarmEmail: 'ops@example.com',
      loadConcurrency: '4',
      spot: 'false',
      taxonomyPath: 'taxonomies/hotel-v2.json',
    },
    { cfnValidation: false },
  );
});
afterAll(() => synth?.cleanup());

const resources = (type: string): Json => synth.template.findResources(type);

it('creates no source bucket and attaches nothing to the imported one', () => {
  const buckets = Object.keys(resources('AWS::S3::Bucket')).map((id) => id.replace(/[A-F0-9]{8}$/, ''));
  expect(buckets.sort()).toEqual(['StorageArtifacts', 'StorageLogs', 'StorageVectorStore', 'StorageWork']);
  const policyTargets = Object.values(resources('AWS::S3::BucketPolicy')).map((p) => flat(p.Properties.Bucket));
  expect(policyTargets.some((b) => b.includes(SOURCE))).toBe(false);
});

it('lets the workers read the configured prefix of the imported bucket, decrypting with its key, and nothing more', () => {
  const statements = statementsOfRole(synth.template, logicalId(synth.template, 'AWS::IAM::Role', 'ComputeJobRole'));
  const onSource = statements.filter((s) => s.resources.some((r) => r.startsWith(sourceArn)));
  expect(onSource.flatMap((s) => s.actions).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
  expect(onSource.find((s) => s.actions.includes('s3:GetObject'))!.resources).toContain(`${sourceArn}/images/*`);
  expect(statements.filter((s) => s.resources.includes(SOURCE_KEY)).flatMap((s) => s.actions)).toEqual(['kms:Decrypt']);
});

it('gives no other role access to the imported bucket', () => {
  const policies = Object.values(resources('AWS::IAM::Policy'));
  const jobRole = `<${logicalId(synth.template, 'AWS::IAM::Role', 'ComputeJobRole')}>`;
  const others = policies.filter((p) => !p.Properties.Roles.map(flat).includes(jobRole));
  expect(others.some((p) => JSON.stringify(p.Properties.PolicyDocument).includes(SOURCE))).toBe(false);
});

it('encrypts Vista buckets with the customer-managed key (bucket keys on); access logs stay SSE-S3', () => {
  for (const [id, bucket] of Object.entries(resources('AWS::S3::Bucket'))) {
    const rule = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
    if (id.startsWith('StorageLogs')) {
      expect(rule.ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    } else {
      expect(rule).toMatchObject({ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } });
    }
  }
  synth.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
});

it('routes workers through one NAT gateway instead of interface endpoints, keeping the S3 gateway endpoint', () => {
  synth.template.resourceCountIs('AWS::EC2::NatGateway', 1);
  const endpoints = Object.values(resources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties.VpcEndpointType);
  expect(endpoints).toEqual(['Gateway']);
});

it('runs On-Demand only when Spot is off (the index job\'s EC2 environment is On-Demand anyway)', () => {
  const types = Object.entries(resources('AWS::Batch::ComputeEnvironment')).map(([id, ce]) => `${id.replace(/[A-F0-9]{8}$/, '')} ${ce.Properties.ComputeResources.Type}`);
  // The Retag job runs on Fargate (CPU only), whatever the GPU workers' Spot setting.
  expect(types.sort()).toEqual(['ComputeOnDemand EC2', 'IndexJobEc2 EC2', 'RetagFargate FARGATE']);
});

it('lets the Batch index job use the customer-managed key of the LanceDB store', () => {
  const statements = statementsOfRole(synth.template, logicalId(synth.template, 'AWS::IAM::Role', 'IndexJobJobRole'));
  const dataKey = `<${logicalId(synth.template, 'AWS::KMS::Key', 'StorageDataKey')}.Arn>`;
  expect(statements.filter((s) => s.resources.includes(dataKey)).flatMap((s) => s.actions).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
});

it('notifies an encrypted SNS topic with the email subscribed from every alarm', () => {
  const topicId = logicalId(synth.template, 'AWS::SNS::Topic', 'ObservabilityAlarmTopic');
  expect(resources('AWS::SNS::Topic')[topicId].Properties.KmsMasterKeyId).toBeDefined();
  synth.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  for (const alarm of Object.values(resources('AWS::CloudWatch::Alarm'))) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
});

it('points the workers at the configured taxonomy in the artifacts bucket', () => {
  const job = resources('AWS::Batch::JobDefinition')[logicalId(synth.template, 'AWS::Batch::JobDefinition', 'ComputeWorkerJob')];
  const env = Object.fromEntries((job.Properties.ContainerProperties.Environment as Json[]).map((e) => [e.Name, flat(e.Value)]));
  expect(env.VISTA_TAXONOMY_URI).toMatch(/^s3:\/\/<StorageArtifacts[A-Z0-9]+>\/taxonomies\/hotel-v2\.json$/);
});

it('passes the load concurrency to the distributed map', () => {
  const [, machine] = Object.entries(resources('AWS::StepFunctions::StateMachine')).find(([id]) => id.startsWith('Workflow'))!;
  expect(JSON.parse(flat(machine.Properties.DefinitionString)).States[BackfillState.load].MaxConcurrency).toBe(4);
});

it('has no unacknowledged cdk-nag AwsSolutions finding', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
