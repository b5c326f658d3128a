/**
 * The real-time path with the default configuration (cdk.json), synthesized next to the backfill
 * stack as bin/app.ts does: the SageMaker endpoint, the API, the upload trigger, their IAM, the
 * uploads bucket, observability, and cdk-nag over both stacks.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { REALTIME_LAMBDA_ENV, SERVING_ENV } from '../../lib/core/serving/serving-env';
import { describeFindings, logicalId } from './support/synth';
import { flatCrossStack as flat, synthVista, type SynthesizedApp } from './support/synth-vista';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthVista();
});
afterAll(() => synth?.cleanup());

const resources = (type: string): Json => synth.serving.findResources(type);
const only = (type: string, idPrefix = ''): Json => {
  const all = Object.entries(resources(type)).filter(([id]) => id.startsWith(idPrefix));
  expect(all.map(([id]) => id)).toHaveLength(1);
  return all[0][1];
};
const id = (type: string, prefix: string) => logicalId(synth.serving, type, prefix);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

interface Statement {
  effect: string;
  actions: string[];
  resources: string[];
  condition?: Json;
}
/** Every statement of the policies attached to a role of the serving stack, cross-stack references read as `<backfill:Name.Arn>`. */
function statementsOf(rolePrefix: string): Statement[] {
  const role = id('AWS::IAM::Role', rolePrefix);
  return Object.values(resources('AWS::IAM::Policy'))
    .filter((p: Json) => p.Properties.Roles.map(flat).includes(`<${role}>`))
    .flatMap((p: Json) => p.Properties.PolicyDocument.Statement as Json[])
    .map((s) => ({ effect: s.Effect, actions: list(s.Action) as string[], resources: list(s.Resource).map(flat), ...(s.Condition ? { condition: s.Condition } : {}) }));
}
const allowed = (statements: Statement[], action: string) =>
  statements.filter((s) => s.effect === 'Allow' && s.actions.includes(action)).flatMap((s) => s.resources).sort();

const uploadsBucket = () => `<${id('AWS::S3::Bucket', 'UploadsBucket')}.Arn>`;
const endpointArn = () => `<${id('AWS::SageMaker::Endpoint', 'InferenceEndpoint')}>`;

describe('inference endpoint', () => {
  it('runs one production variant on the configured GPU instance type, with a CUDA 12 driver AMI, and no data capture', () => {
    const config = only('AWS::SageMaker::EndpointConfig').Properties;
    expect(config.ProductionVariants).toHaveLength(1);
    expect(config.ProductionVariants[0]).toMatchObject({
      VariantName: 'AllTraffic',
      InstanceType: 'ml.g5.xlarge',
      InitialInstanceCount: 1,
      InferenceAmiVersion: 'al2-ami-sagemaker-inference-gpu-3-1',
      ContainerStartupHealthCheckTimeoutInSeconds: 600,
    });
    expect(config.DataCaptureConfig).toBeUndefined();
    // g5 instances have local NVMe storage, for which SageMaker refuses a volume KMS key.
    expect(config.KmsKeyId).toBeUndefined();
    expect(config.ProductionVariants[0].ServerlessConfig).toBeUndefined();
  });

  it('serves the Batch worker\'s image (the same asset, so one build and one push)', () => {
    const image: string = only('AWS::SageMaker::Model').Properties.PrimaryContainer.Image['Fn::Sub'];
    const tag = /container-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}:([0-9a-f]{64})$/.exec(image)?.[1];
    expect(tag).toBeDefined();
    const workerImage = JSON.stringify(synth.backfill.findResources('AWS::Batch::JobDefinition'));
    expect(workerImage).toContain(tag);
  });

  it('tells the server where the model, label banks and uploads are, and allows fetching the uploads location only', () => {
    const env = only('AWS::SageMaker::Model').Properties.PrimaryContainer.Environment as Json;
    const uploads = `s3://<${id('AWS::S3::Bucket', 'UploadsBucket')}>/uploads/`;
    expect(flat(env[SERVING_ENV.allowedUriPrefixes])).toBe(uploads);
    expect(flat(env[SERVING_ENV.allowedUriPrefixes]).split(',')).toHaveLength(1);
    expect(flat(env[SERVING_ENV.modelUri])).toBe('s3://<backfill:StorageArtifacts>/models/clip-vit-b-32/');
    expect(flat(env[SERVING_ENV.artifactsUri])).toBe('s3://<backfill:StorageArtifacts>');
    expect(env[SERVING_ENV.provider]).toBe('cuda');
    expect(env[SERVING_ENV.maxBatchSize]).toBe('16');
    expect(env.AWS_REGION).toEqual({ Ref: 'AWS::Region' });
    expect(env[SERVING_ENV.taxonomyUri]).toBeUndefined();
  });

  it('has a stable lowercase name and its own log group with a retention', () => {
    expect(only('AWS::SageMaker::Endpoint').Properties).toMatchObject({ EndpointName: 'vistaserving-enrich', RetainAllVariantProperties: true });
    synth.serving.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/sagemaker/Endpoints/vistaserving-enrich', RetentionInDays: 90 });
  });

  it('scales the variant between min and max instances on invocations per instance', () => {
    expect(only('AWS::ApplicationAutoScaling::ScalableTarget').Properties).toMatchObject({
      ServiceNamespace: 'sagemaker',
      ResourceId: 'endpoint/vistaserving-enrich/variant/AllTraffic',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      MinCapacity: 1,
      MaxCapacity: 2,
    });
    expect(flat(only('AWS::ApplicationAutoScaling::ScalableTarget').Properties.RoleARN)).toMatch(
      /:role\/aws-service-role\/sagemaker\.application-autoscaling\.amazonaws\.com\/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint$/,
    );
    expect(only('AWS::ApplicationAutoScaling::ScalingPolicy').Properties.TargetTrackingScalingPolicyConfiguration).toMatchObject({
      PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
      TargetValue: 1800,
    });
  });
});

describe('endpoint execution role', () => {
  const statements = () => statementsOf('InferenceRole');

  it('pulls from the CDK assets repository only', () => {
    expect(allowed(statements(), 'ecr:BatchGetImage')).toEqual([
      'arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}',
    ]);
    expect(allowed(statements(), 'ecr:GetAuthorizationToken')).toEqual(['*']);
  });

  it('writes its own log group only', () => {
    const logs = `<${id('AWS::Logs::LogGroup', 'InferenceLogs')}`;
    expect(allowed(statements(), 'logs:PutLogEvents').every((r) => r.startsWith(logs) || r.endsWith(`:log-group:${logs}>`))).toBe(true);
  });

  it('reads the model folder, the label banks and the uploads prefix; writes nothing (a poisoned label bank would re-tag the backfill)', () => {
    expect(allowed(statements(), 's3:GetObject')).toEqual(
      ['<backfill:StorageArtifacts.Arn>/models/clip-vit-b-32/*', '<backfill:StorageArtifacts.Arn>/label-banks/*', `${uploadsBucket()}/uploads/*`].sort(),
    );
    expect(allowed(statements(), 's3:PutObject')).toEqual([]);
    expect(allowed(statements(), 's3:DeleteObject')).toEqual([]);
  });

  it('has no action wildcard, and `*` resources only for actions without resource-level permissions', () => {
    expect(statements().flatMap((s) => s.actions).filter((a) => a.includes('*'))).toEqual([]);
    const onStar = statements().filter((s) => s.resources.includes('*'));
    expect(onStar.flatMap((s) => s.actions).filter((a) => !a.startsWith('ec2:')).sort()).toEqual(['cloudwatch:PutMetricData', 'ecr:GetAuthorizationToken']);
    // VpcConfig: the network-interface actions SageMaker needs, which have no resource to name before it creates the interfaces.
    expect(onStar.flatMap((s) => s.actions).filter((a) => a.startsWith('ec2:')).every((a) => /^ec2:(Create|Delete|Describe)/.test(a))).toBe(true);
    expect(onStar.find((s) => s.actions.includes('cloudwatch:PutMetricData'))!.condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/Endpoints' },
    });
  });
});

describe('API', () => {
  it('routes POST /v1/enrich and POST /v1/images, signed (AWS_IAM), to the API function with payload format 2.0, and nothing else', () => {
    // The explorer's query APIs (test/infra/explorer.test.ts) are other APIs of this stack.
    const enrichApi = id('AWS::ApiGatewayV2::Api', 'ApiHttpApi');
    const routes = (Object.values(resources('AWS::ApiGatewayV2::Route')) as Json[]).filter((r) => flat(r.Properties.ApiId) === `<${enrichApi}>`);
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(['POST /v1/enrich', 'POST /v1/images']);
    expect(routes.every((r) => r.Properties.AuthorizationType === 'AWS_IAM')).toBe(true);
    const integration = only('AWS::ApiGatewayV2::Integration', 'ApiHttpApi').Properties;
    expect(integration).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0', TimeoutInMillis: 29_000 });
    expect(flat(integration.IntegrationUri)).toBe(`<${id('AWS::Lambda::Function', 'FunctionsApi')}.Arn>`);
  });

  it('throttles the default stage and writes JSON access logs to CloudWatch', () => {
    const stage = only('AWS::ApiGatewayV2::Stage', 'ApiHttpApi').Properties;
    expect(stage).toMatchObject({ StageName: '$default', AutoDeploy: true, DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 } });
    expect(flat(stage.AccessLogSettings.DestinationArn)).toBe(`<${id('AWS::Logs::LogGroup', 'ApiAccessLogs')}.Arn>`);
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', caller: '$context.identity.userArn', status: '$context.status' });
  });

  it('offers one policy per route: enrich-only callers cannot store into the catalog', () => {
    for (const [policy, path] of [['ApiInvokePolicy', 'v1/enrich'], ['ApiStorePolicy', 'v1/images']]) {
      const statements = only('AWS::IAM::ManagedPolicy', policy).Properties.PolicyDocument.Statement as Json[];
      expect(statements).toHaveLength(1);
      expect(statements[0].Action).toBe('execute-api:Invoke');
      expect(flat(statements[0].Resource)).toBe(
        `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${id('AWS::ApiGatewayV2::Api', 'ApiHttpApi')}>/$default/POST/${path}`,
      );
    }
  });
});

describe('real-time functions', () => {
  const fn = (prefix: string) => resources('AWS::Lambda::Function')[id('AWS::Lambda::Function', prefix)].Properties;

  it('name the endpoint, and the upload function the results location', () => {
    expect(fn('FunctionsApi').Environment.Variables[REALTIME_LAMBDA_ENV.endpointName]).toBe('vistaserving-enrich');
    expect(fn('FunctionsApi').Environment.Variables[REALTIME_LAMBDA_ENV.resultsUri]).toBeUndefined();
    const upload = fn('FunctionsUpload').Environment.Variables;
    expect(upload[REALTIME_LAMBDA_ENV.endpointName]).toBe('vistaserving-enrich');
    expect(flat(upload[REALTIME_LAMBDA_ENV.resultsUri])).toBe('s3://<backfill:StorageWork>/realtime/results/');
  });

  it('give the API function less time than API Gateway waits', () => {
    expect(fn('FunctionsApi').Timeout).toBe(25);
    expect(fn('FunctionsApi').Timeout).toBeLessThan(29);
    expect(fn('FunctionsUpload').Timeout).toBe(120);
  });

  it('may invoke exactly the endpoint, nothing else of SageMaker', () => {
    for (const role of ['FunctionsApiRole', 'FunctionsUploadRole']) {
      const sagemaker = statementsOf(role).filter((s) => s.actions.some((a) => a.startsWith('sagemaker:')));
      expect(sagemaker).toEqual([{ effect: 'Allow', actions: ['sagemaker:InvokeEndpoint'], resources: [endpointArn()] }]);
    }
  });

  it('the upload function writes (and replaces) only realtime/results/ and the inbox of the work bucket; the API function may only add to the inbox', () => {
    const upload = statementsOf('FunctionsUploadRole');
    expect(allowed(upload, 's3:PutObject')).toEqual(['<backfill:StorageWork.Arn>/realtime/inbox/*', '<backfill:StorageWork.Arn>/realtime/results/*']);
    expect(flat(fn('FunctionsUpload').Environment.Variables[REALTIME_LAMBDA_ENV.inboxUri])).toBe('s3://<backfill:StorageWork>/realtime/inbox/');
    expect(allowed(upload, 's3:DeleteObject')).toEqual(['<backfill:StorageWork.Arn>/realtime/results/*']);
    expect(allowed(upload, 's3:GetObject')).toEqual([]);
    const api = statementsOf('FunctionsApiRole');
    expect(allowed(api, 's3:PutObject')).toEqual(['<backfill:StorageWork.Arn>/realtime/inbox/*']);
    expect(allowed(api, 's3:GetObject')).toEqual([]);
    expect(allowed(api, 's3:DeleteObject')).toEqual([]);
    expect(flat(fn('FunctionsApi').Environment.Variables[REALTIME_LAMBDA_ENV.inboxUri])).toBe('s3://<backfill:StorageWork>/realtime/inbox/');
  });

  it('ingest the inbox into the backfill’s LanceDB on a schedule, one run at a time, with LanceDB from a layer', () => {
    const ingest = fn('FunctionsIngest');
    expect(ingest.ReservedConcurrentExecutions).toBe(1);
    expect(ingest.Timeout).toBe(900);
    expect(ingest.Layers).toHaveLength(1);
    const vars = ingest.Environment.Variables;
    expect(flat(vars[REALTIME_LAMBDA_ENV.inboxUri])).toBe('s3://<backfill:StorageWork>/realtime/inbox/');
    expect(flat(vars[REALTIME_LAMBDA_ENV.batchesUri])).toBe('s3://<backfill:StorageWork>/realtime/batches/');
    expect(flat(vars[REALTIME_LAMBDA_ENV.dbUri])).toBe('s3://<backfill:StorageVectorStore>/db');
    // Records land at the latest when the upload function's invocation (120 s) ends.
    expect(vars[REALTIME_LAMBDA_ENV.settleSeconds]).toBe('180');
    // Neither EventBridge nor Lambda's asynchronous invocation retries a failed run.
    expect(only('AWS::Lambda::EventInvokeConfig').Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 300 });

    const rule = only('AWS::Events::Rule').Properties;
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
    expect(rule.Targets).toHaveLength(1);
    expect(flat(rule.Targets[0].Arn)).toBe(`<${id('AWS::Lambda::Function', 'FunctionsIngest')}.Arn>`);
    expect(rule.Targets[0].RetryPolicy).toMatchObject({ MaximumRetryAttempts: 0 });

    const statements = statementsOf('FunctionsIngestRole');
    expect(allowed(statements, 's3:GetObject')).toEqual([
      '<backfill:StorageVectorStore.Arn>/db/*',
      '<backfill:StorageWork.Arn>/realtime/batches/*',
      '<backfill:StorageWork.Arn>/realtime/inbox/*',
    ]);
    expect(allowed(statements, 's3:PutObject')).toEqual(['<backfill:StorageVectorStore.Arn>/db/*', '<backfill:StorageWork.Arn>/realtime/batches/*']);
    expect(allowed(statements, 's3:DeleteObject')).toEqual([
      '<backfill:StorageVectorStore.Arn>/db/*',
      '<backfill:StorageWork.Arn>/realtime/batches/*',
      '<backfill:StorageWork.Arn>/realtime/inbox/*',
    ]);
    expect(statements.flatMap((s) => s.actions).filter((a) => a.startsWith('sagemaker:'))).toEqual([]);
  });

  it('drain the uploads queue in batches, reporting partial failures, with bounded concurrency', () => {
    const mapping = only('AWS::Lambda::EventSourceMapping').Properties;
    expect(mapping).toMatchObject({
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 4 },
    });
    expect(flat(mapping.EventSourceArn)).toBe(`<${id('AWS::SQS::Queue', 'UploadsQueue')}.Arn>`);
    expect(flat(mapping.FunctionName)).toBe(`<${id('AWS::Lambda::Function', 'FunctionsUpload')}>`);
  });
});

describe('uploads', () => {
  const bucket = () => only('AWS::S3::Bucket', 'UploadsBucket');

  it('is a bucket of its own: encrypted, private, TLS only, access-logged, uploads kept (expiry is opt-in), retained', () => {
    const b = bucket();
    expect(b.DeletionPolicy).toBe('Retain');
    expect(b.UpdateReplacePolicy).toBe('Retain');
    expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(b.Properties.OwnershipControls.Rules).toEqual([{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    expect(flat(b.Properties.LoggingConfiguration.DestinationBucketName)).toBe('<backfill:StorageLogs>');
    expect(b.Properties.LoggingConfiguration.LogFilePrefix).toBe('s3/uploads/');
    // An upload may be the only copy of a customer's image: nothing expires it by default.
    expect(b.Properties.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })]);
    const policy = Object.values(resources('AWS::S3::BucketPolicy')).find((p: Json) => flat(p.Properties.Bucket) === `<${id('AWS::S3::Bucket', 'UploadsBucket')}>`) as Json;
    expect(policy.Properties.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    );
  });

  it('lets S3 deliver its access logs into the backfill stack\'s logs bucket, for this account only', () => {
    const policies = Object.values(synth.backfill.findResources('AWS::S3::BucketPolicy')) as Json[];
    const delivery = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
      .filter((s) => JSON.stringify(s.Resource).includes('/s3/uploads/*'));
    expect(delivery).toHaveLength(1);
    expect(delivery[0]).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'logging.s3.amazonaws.com' },
      Action: 's3:PutObject',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
  });

  it('notifies the uploads queue of every object created under uploads/', () => {
    const notifications = only('Custom::S3BucketNotifications').Properties;
    expect(flat(notifications.BucketName)).toBe(`<${id('AWS::S3::Bucket', 'UploadsBucket')}>`);
    expect(notifications.NotificationConfiguration.QueueConfigurations).toEqual([
      {
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
        QueueArn: { 'Fn::GetAtt': [id('AWS::SQS::Queue', 'UploadsQueue'), 'Arn'] },
      },
    ]);
    // Only this bucket may send to the queue.
    const queuePolicy = Object.values(resources('AWS::SQS::QueuePolicy')).find((p: Json) => p.Properties.Queues.map(flat).includes(`<${id('AWS::SQS::Queue', 'UploadsQueue')}>`)) as Json;
    const send = (queuePolicy.Properties.PolicyDocument.Statement as Json[]).find((s) => list(s.Action).includes('sqs:SendMessage'))!;
    expect(send.Principal).toEqual({ Service: 's3.amazonaws.com' });
    expect(flat(send.Condition.ArnLike['aws:SourceArn'])).toBe(uploadsBucket());
  });

  it('queues notifications encrypted, over TLS only, with a dead-letter queue and a visibility timeout of 6× the function timeout', () => {
    const queue = only('AWS::SQS::Queue', 'UploadsQueue').Properties;
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [id('AWS::SQS::Queue', 'UploadsDeadLetters'), 'Arn'] }, maxReceiveCount: 5 });
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 120);
    const dlq = only('AWS::SQS::Queue', 'UploadsDeadLetters').Properties;
    expect(dlq.SqsManagedSseEnabled).toBe(true);
    expect(dlq.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const q of ['UploadsQueue', 'UploadsDeadLetters']) {
      const policy = Object.values(resources('AWS::SQS::QueuePolicy')).find((p: Json) => p.Properties.Queues.map(flat).includes(`<${id('AWS::SQS::Queue', q)}>`)) as Json;
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      );
    }
  });
});

describe('observability', () => {
  it('alarms on any dead letter, endpoint 5xx, API 5xx, three failed ingest runs in a row and uploads waiting too long for search', () => {
    const alarms = Object.values(resources('AWS::CloudWatch::Alarm')) as Json[];
    const dlq = alarms.find((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')!.Properties;
    expect(dlq).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(flat(dlq.Dimensions[0].Value)).toBe(`<${id('AWS::SQS::Queue', 'UploadsDeadLetters')}.QueueName>`);
    const endpoint5xx = alarms.find((a) => a.Properties.MetricName === 'Invocation5XXErrors')!.Properties;
    expect(endpoint5xx).toMatchObject({ Namespace: 'AWS/SageMaker', Threshold: 5, Statistic: 'Sum' });
    expect(endpoint5xx.Dimensions).toEqual(
      expect.arrayContaining([{ Name: 'EndpointName', Value: 'vistaserving-enrich' }, { Name: 'VariantName', Value: 'AllTraffic' }]),
    );
    expect(alarms.find((a) => a.Properties.MetricName === '5xx')!.Properties).toMatchObject({ Namespace: 'AWS/ApiGateway', Threshold: 5 });
    const lag = alarms.find((a) => a.Properties.MetricName === 'RealtimeInboxOldestAgeSeconds')!.Properties;
    expect(lag).toMatchObject({ Namespace: 'Vista', Statistic: 'Maximum', Threshold: 1800, Period: 300 });
    expect(flat(lag.Dimensions[0].Value)).toBe(`<${id('AWS::Lambda::Function', 'FunctionsIngest')}>`);
    const unindexed = alarms.find((a) => a.Properties.MetricName === 'StoreUnindexedRows')!.Properties;
    expect(unindexed).toMatchObject({ Namespace: 'Vista', Statistic: 'Maximum', Threshold: 1_000_000 });
    const ingest = alarms.find((a) => a.Properties.MetricName === 'Errors')!.Properties;
    expect(ingest).toMatchObject({ Namespace: 'AWS/Lambda', Threshold: 1, EvaluationPeriods: 3, DatapointsToAlarm: 3, Period: 300 });
    expect(flat(ingest.Dimensions[0].Value)).toBe(`<${id('AWS::Lambda::Function', 'FunctionsIngest')}>`);
    // No alarm topic configured: no actions.
    expect(alarms.every((a) => a.Properties.AlarmActions === undefined)).toBe(true);
  });

  it('graphs the endpoint, the API and the uploads queue on one dashboard', () => {
    const parts = only('AWS::CloudWatch::Dashboard').Properties.DashboardBody['Fn::Join'][1] as unknown[];
    const body = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('')) as { widgets: { properties: { metrics?: unknown[][] } }[] };
    // "namespace metric" of every graphed metric (rows start with namespace and name; expressions are objects).
    const graphed = body.widgets.flatMap((w) => w.properties.metrics ?? []).filter((row) => typeof row[0] === 'string').map((row) => `${row[0]} ${row[1]}`);
    expect(graphed).toEqual(
      expect.arrayContaining([
        'AWS/SageMaker Invocations',
        'AWS/SageMaker ModelLatency',
        'AWS/SageMaker Invocation4XXErrors',
        'AWS/SageMaker Invocation5XXErrors',
        '/aws/sagemaker/Endpoints GPUUtilization',
        'AWS/ApiGateway 4xx',
        'AWS/ApiGateway 5xx',
        'AWS/ApiGateway Latency',
        'AWS/SQS ApproximateAgeOfOldestMessage',
        'AWS/SQS ApproximateNumberOfMessagesVisible',
        'Vista RealtimeRecordsIngested',
        'Vista RealtimeInboxOldestAgeSeconds',
        'Vista StoreUnindexedRows',
      ]),
    );
  });
});

it('outputs the API URL, the endpoint name and the uploads bucket', () => {
  const outputs = synth.serving.findOutputs('*');
  expect(flat(outputs.ApiUrl.Value)).toBe(`<${id('AWS::ApiGatewayV2::Api', 'ApiHttpApi')}.ApiEndpoint>/v1/enrich`);
  expect(flat(outputs.ApiStoreUrl.Value)).toBe(`<${id('AWS::ApiGatewayV2::Api', 'ApiHttpApi')}.ApiEndpoint>/v1/images`);
  expect(flat(outputs.ApiStorePolicyArn.Value)).toBe(`<${id('AWS::IAM::ManagedPolicy', 'ApiStorePolicy')}>`);
  expect(outputs.EndpointName.Value).toBe('vistaserving-enrich');
  expect(flat(outputs.UploadsBucket.Value)).toBe(`<${id('AWS::S3::Bucket', 'UploadsBucket')}>`);
  expect(flat(outputs.UploadsUri.Value)).toBe(`s3://<${id('AWS::S3::Bucket', 'UploadsBucket')}>/uploads/`);
  expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ApiInvokePolicyArn', 'RealtimeResultsUri', 'UploadDeadLetterQueueUrl', 'DashboardName']));
});

it('deploys after the backfill stack it reads from', () => {
  expect(synth.stacks.serving.dependencies.map((s) => s.stackName)).toEqual(['VistaBackfill']);
  synth.serving.hasResource('AWS::SageMaker::Model', Match.anyValue());
});

it('passes cdk-nag\'s AWS Solutions checks (both stacks), every acknowledgement with its reason', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
  const acknowledged = synth.stacks.serving.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'));
  expect(acknowledged.length).toBeGreaterThan(0);
  for (const entry of acknowledged) {
    for (const reason of Object.values(entry.data as Record<string, string>)) expect(reason.length).toBeGreaterThan(20);
  }
});
