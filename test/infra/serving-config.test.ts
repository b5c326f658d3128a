/**
 * The real-time path configured away from the defaults: a team with a customer-managed key, an
 * alarm email, camera uploads filtered by suffix, a custom taxonomy, a bigger GPU and a wider
 * autoscaling range. Everything still passes cdk-nag.
 */
import { SERVING_ENV } from '../../lib/core/serving/serving-env';
import { describeFindings, logicalId } from './support/synth';
import { flatCrossStack as flat, synthVista, type SynthesizedApp } from './support/synth-vista';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthVista(
    {
      encryption: 'KMS',
      alarmEmail: 'ops@example.com',
      uploadSuffixes: '.jpg,.jpeg,.JPG,.png',
      uploadRetentionDays: '30',
      taxonomyPath: 'taxonomies/hotel-v2.json',
      servingStackName: 'HotelsRealtime',
      endpointInstanceType: 'ml.g6.2xlarge',
      endpointInitialInstanceCount: '2',
      endpointMinInstances: '2',
      endpointMaxInstances: '6',
      apiTimeoutSeconds: '20',
      uploadTimeoutSeconds: '300',
      uploadBatchSize: '50',
      uploadBatchingWindowSeconds: '20',
      realtimeIngestIntervalMinutes: '15',
      realtimeIngestMemoryMiB: '4096',
    },
    { cfnValidation: false },
  );
});
afterAll(() => synth?.cleanup());

const resources = (type: string): Json => synth.serving.findResources(type);
const one = (type: string): Json => {
  const all = Object.values(resources(type));
  expect(all).toHaveLength(1);
  return all[0];
};

it('names the stack and the endpoint after servingStackName', () => {
  expect(synth.stacks.serving.stackName).toBe('HotelsRealtime');
  expect(one('AWS::SageMaker::Endpoint').Properties.EndpointName).toBe('hotelsrealtime-enrich');
});

it('runs the configured instance type and autoscaling range', () => {
  expect(one('AWS::SageMaker::EndpointConfig').Properties.ProductionVariants[0]).toMatchObject({ InstanceType: 'ml.g6.2xlarge', InitialInstanceCount: 2 });
  expect(one('AWS::ApplicationAutoScaling::ScalableTarget').Properties).toMatchObject({ MinCapacity: 2, MaxCapacity: 6 });
});

it('gives the server the custom taxonomy, and its role read access to that file only', () => {
  const env = one('AWS::SageMaker::Model').Properties.PrimaryContainer.Environment as Json;
  expect(flat(env[SERVING_ENV.taxonomyUri])).toBe('s3://<backfill:StorageArtifacts>/taxonomies/hotel-v2.json');
  const policies = Object.values(resources('AWS::IAM::Policy')) as Json[];
  const role = logicalId(synth.serving, 'AWS::IAM::Role', 'InferenceRole');
  const reads = policies
    .filter((p) => p.Properties.Roles.map(flat).includes(`<${role}>`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
    .filter((s) => [].concat(s.Action).includes('s3:GetObject' as never))
    .flatMap((s) => [].concat(s.Resource).map(flat));
  expect(reads).toContain('<backfill:StorageArtifacts.Arn>/taxonomies/hotel-v2.json');
  expect(reads.filter((r) => r.includes('/taxonomies/'))).toHaveLength(1);
});

it('sends one notification per suffix, all under uploads/', () => {
  const queue = logicalId(synth.serving, 'AWS::SQS::Queue', 'UploadsQueue');
  const configurations = one('Custom::S3BucketNotifications').Properties.NotificationConfiguration.QueueConfigurations as Json[];
  expect(configurations.map((c) => c.Filter.Key.FilterRules)).toEqual(
    ['.jpg', '.jpeg', '.JPG', '.png'].map((suffix) => [
      { Name: 'suffix', Value: suffix },
      { Name: 'prefix', Value: 'uploads/' },
    ]),
  );
  expect(configurations.every((c) => c.QueueArn['Fn::GetAtt'][0] === queue)).toBe(true);
});

it('encrypts the uploads bucket with the data key, which the endpoint and the upload function may use', () => {
  const bucket = Object.entries(resources('AWS::S3::Bucket')).find(([id]) => id.startsWith('UploadsBucket'))![1] as Json;
  const sse = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
  expect(sse.ServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms');
  expect(flat(sse.ServerSideEncryptionByDefault.KMSMasterKeyID)).toBe('<backfill:StorageDataKey.Arn>');
  // uploadRetentionDays 30 (opt-in): uploads expire.
  expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
    expect.arrayContaining([expect.objectContaining({ Id: 'expire-uploads', Prefix: 'uploads/', ExpirationInDays: 30 })]),
  );
  for (const rolePrefix of ['InferenceRole', 'FunctionsUploadRole']) {
    const role = logicalId(synth.serving, 'AWS::IAM::Role', rolePrefix);
    const kms = (Object.values(resources('AWS::IAM::Policy')) as Json[])
      .filter((p) => p.Properties.Roles.map(flat).includes(`<${role}>`))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
      .filter((s) => [].concat(s.Action).some((a: string) => a.startsWith('kms:')));
    expect(kms.flatMap((s) => [].concat(s.Resource).map(flat))).toEqual(['<backfill:StorageDataKey.Arn>']);
  }
});

it('sizes the queue and the event source from the upload settings', () => {
  const queue = Object.entries(resources('AWS::SQS::Queue')).find(([id]) => id.startsWith('UploadsQueue'))![1] as Json;
  expect(queue.Properties.VisibilityTimeout).toBe(6 * 300 + 20);
  expect(one('AWS::Lambda::EventSourceMapping').Properties).toMatchObject({ BatchSize: 50, MaximumBatchingWindowInSeconds: 20 });
});

it('runs the ingest at the configured interval and size, its alarm over three of those intervals', () => {
  const rule = one('AWS::Events::Rule').Properties;
  expect(rule.ScheduleExpression).toBe('rate(15 minutes)');
  const ingest = Object.entries(resources('AWS::Lambda::Function')).find(([id]) => id.startsWith('FunctionsIngest'))![1] as Json;
  expect(ingest.Properties.MemorySize).toBe(4096);
  const alarm = (Object.values(resources('AWS::CloudWatch::Alarm')) as Json[]).find((a) => a.Properties.MetricName === 'Errors')!;
  expect(alarm.Properties).toMatchObject({ Period: 900, EvaluationPeriods: 3 });
});

it('notifies the backfill stack\'s alarm topic', () => {
  const alarms = Object.values(resources('AWS::CloudWatch::Alarm')) as Json[];
  expect(alarms).toHaveLength(6);
  for (const alarm of alarms) expect(alarm.Properties.AlarmActions.map(flat)).toEqual(['<backfill:ObservabilityAlarmTopic>']);
});

it('passes cdk-nag\'s AWS Solutions checks', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
