/**
 * `uploadInference: async`: the upload path's own SageMaker endpoint on asynchronous inference,
 * scaled to zero when idle, next to the always-on endpoint the API keeps; cdk-nag over both stacks.
 */
import { REALTIME_LAMBDA_ENV } from '../../lib/core/serving/serving-env';
import { describeFindings, logicalId } from './support/synth';
import { flatCrossStack as flat, synthVista, type SynthesizedApp } from './support/synth-vista';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthVista({ uploadInference: 'async', asyncEndpointMaxInstances: 3, asyncBacklogPerInstance: 50 });
});
afterAll(() => synth?.cleanup());

const resources = (type: string): [string, Json][] => Object.entries(synth.serving.findResources(type));
const one = (type: string, idPrefix: string): [string, Json] => {
  const found = resources(type).filter(([id]) => id.startsWith(idPrefix));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0];
};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const statementsOf = (roleId: string): Json[] =>
  resources('AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.map(flat).includes(`<${roleId}>`))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
const functionEnv = (idPrefix: string): Json => one('AWS::Lambda::Function', idPrefix)[1].Properties.Environment.Variables;

it('keeps the always-on endpoint for the API and adds an asynchronous one of the same model', () => {
  const configs = resources('AWS::SageMaker::EndpointConfig');
  expect(configs).toHaveLength(2);
  const [syncId] = one('AWS::SageMaker::Model', 'InferenceModel');
  const [, asyncConfig] = one('AWS::SageMaker::EndpointConfig', 'AsyncInferenceConfig');
  const [, syncConfig] = one('AWS::SageMaker::EndpointConfig', 'InferenceConfig');
  expect(syncConfig.Properties.AsyncInferenceConfig).toBeUndefined();
  expect(flat(asyncConfig.Properties.ProductionVariants[0].ModelName)).toBe(`<${syncId}.ModelName>`);
  const async = asyncConfig.Properties.AsyncInferenceConfig;
  expect(async.ClientConfig).toEqual({ MaxConcurrentInvocationsPerInstance: 16 });
  expect(flat(async.OutputConfig.S3OutputPath)).toMatch(/^s3:\/\/.*\/realtime\/async\/output\/$/);
  expect(flat(async.OutputConfig.S3FailurePath)).toMatch(/^s3:\/\/.*\/realtime\/async\/failures\/$/);
  const [successId] = one('AWS::SNS::Topic', 'AsyncInferenceSucceeded');
  const [errorId] = one('AWS::SNS::Topic', 'AsyncInferenceFailed');
  expect(flat(async.OutputConfig.NotificationConfig.SuccessTopic)).toBe(`<${successId}>`);
  expect(flat(async.OutputConfig.NotificationConfig.ErrorTopic)).toBe(`<${errorId}>`);

  // Both topics feed the completions queue, raw (the messages are SageMaker's notifications).
  const [queueId] = one('AWS::SQS::Queue', 'AsyncInferenceCompletions');
  const subscriptions = resources('AWS::SNS::Subscription').map(([, s]) => s.Properties);
  expect(subscriptions.filter((s) => s.Protocol === 'sqs' && flat(s.Endpoint) === `<${queueId}.Arn>` && s.RawMessageDelivery === true).map((s) => flat(s.TopicArn)).sort()).toEqual(
    [`<${errorId}>`, `<${successId}>`].sort(),
  );
});

it('scales the asynchronous endpoint between 0 and asyncEndpointMaxInstances, from zero on HasBacklogWithoutCapacity', () => {
  const [targetId, target] = one('AWS::ApplicationAutoScaling::ScalableTarget', 'AsyncInferenceScaling');
  expect(target.Properties).toMatchObject({ MinCapacity: 0, MaxCapacity: 3, ResourceId: 'endpoint/vistaserving-enrich-async/variant/AllTraffic' });
  // The synchronous endpoint keeps its floor of one instance.
  expect(one('AWS::ApplicationAutoScaling::ScalableTarget', 'InferenceScaling')[1].Properties.MinCapacity).toBe(1);

  const policies = resources('AWS::ApplicationAutoScaling::ScalingPolicy').map(([id, p]) => [id, p.Properties] as [string, Json]).filter(([, p]) => flat(p.ScalingTargetId) === `<${targetId}>`);
  const tracking = policies.find(([, p]) => p.PolicyType === 'TargetTrackingScaling')![1].TargetTrackingScalingPolicyConfiguration;
  expect(tracking.TargetValue).toBe(50);
  expect(tracking.CustomizedMetricSpecification).toMatchObject({ MetricName: 'ApproximateBacklogSizePerInstance', Namespace: 'AWS/SageMaker', Statistic: 'Average', Dimensions: [{ Name: 'EndpointName', Value: 'vistaserving-enrich-async' }] });
  const [stepId, step] = policies.find(([, p]) => p.PolicyType === 'StepScaling')!;
  expect(step.StepScalingPolicyConfiguration).toMatchObject({ AdjustmentType: 'ChangeInCapacity', StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }] });

  const [, alarm] = one('AWS::CloudWatch::Alarm', 'AsyncInferenceBacklogWithoutCapacity');
  expect(alarm.Properties).toMatchObject({ MetricName: 'HasBacklogWithoutCapacity', Namespace: 'AWS/SageMaker', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
  expect(alarm.Properties.AlarmActions.map(flat)).toEqual([`<${stepId}>`]);

  // Outcomes that could not be recorded raise their own alarm.
  const [deadLettersId] = one('AWS::SQS::Queue', 'AsyncInferenceCompletionDeadLetters');
  const [, deadLetters] = one('AWS::CloudWatch::Alarm', 'AsyncInferenceCompletionsParked');
  expect(deadLetters.Properties).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
  expect(flat(deadLetters.Properties.Dimensions[0].Value)).toBe(`<${deadLettersId}.QueueName>`);
});

it('the upload function only queues asynchronous inferences; the completion function writes the records', () => {
  const upload = functionEnv('FunctionsUpload');
  expect(upload[REALTIME_LAMBDA_ENV.asyncEndpointName]).toBe('vistaserving-enrich-async');
  expect(upload[REALTIME_LAMBDA_ENV.resultsUri]).toBeUndefined();
  const [uploadFn] = one('AWS::Lambda::Function', 'FunctionsUpload');
  const uploadRole = flat(synth.serving.findResources('AWS::Lambda::Function')[uploadFn].Properties.Role).replace(/^<|\.Arn>$/g, '');
  const uploadActions = statementsOf(uploadRole).flatMap((s) => list(s.Action));
  expect(uploadActions).toContain('sagemaker:InvokeEndpointAsync');
  expect(uploadActions).not.toContain('sagemaker:InvokeEndpoint');
  expect(uploadActions.filter((a) => String(a).startsWith('s3:'))).toEqual([]);

  const complete = functionEnv('FunctionsCompletion');
  expect(Object.keys(complete)).toEqual(expect.arrayContaining([REALTIME_LAMBDA_ENV.resultsUri, REALTIME_LAMBDA_ENV.inboxUri]));
  const [queueId] = one('AWS::SQS::Queue', 'AsyncInferenceCompletions');
  const mappings = resources('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
  expect(mappings.find((m) => flat(m.EventSourceArn) === `<${queueId}.Arn>`)).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'] });
});

it('the endpoint role may publish to its two topics and write only the asynchronous output prefixes', () => {
  const role = logicalId(synth.serving, 'AWS::IAM::Role', 'InferenceRole');
  const statements = statementsOf(role);
  const publish = statements.filter((s) => list(s.Action).includes('sns:Publish'));
  expect(publish.flatMap((s) => list(s.Resource).map(flat)).sort()).toEqual(
    [`<${one('AWS::SNS::Topic', 'AsyncInferenceFailed')[0]}>`, `<${one('AWS::SNS::Topic', 'AsyncInferenceSucceeded')[0]}>`].sort(),
  );
  const writes = statements.filter((s) => list(s.Action).includes('s3:PutObject')).flatMap((s) => list(s.Resource).map(flat));
  expect(writes.length).toBeGreaterThan(0);
  for (const resource of writes) expect(resource).toMatch(/\/realtime\/async\/(output|failures)\/\*$/);
});

it('passes cdk-nag\'s AWS Solutions checks with the asynchronous endpoint', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
