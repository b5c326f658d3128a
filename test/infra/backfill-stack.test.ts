/**
 * The backfill stack with the default configuration (cdk.json): GPU compute, the worker's job
 * definition, bucket security, the network, the state machine's shape, the LanceDB layer.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { BackfillState, INDEX_JOB_COMMAND } from '../../lib/core/backfill/state-names';
import { LANCEDB_BINARY, LAYER_NODE_MODULES } from '../../lib/infra/lancedb-layer';
import { describeFindings, flat, stagedAssetDir, synthBackfill, type Synthesized } from './support/synth';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let synth: Synthesized;
beforeAll(() => {
  synth = synthBackfill();
});
afterAll(() => synth?.cleanup());

const resourcesOf = (type: string): Json => synth.template.findResources(type);
const only = (type: string, idPrefix = ''): Json => {
  const all = Object.entries(resourcesOf(type)).filter(([id]) => id.startsWith(idPrefix));
  expect(all).toHaveLength(1);
  return all[0][1];
};

describe('GPU compute', () => {
  const environments = () => Object.entries(resourcesOf('AWS::Batch::ComputeEnvironment')).filter(([id]) => id.startsWith('Compute'));

  it('runs 2xlarge GPU instance types (8 vCPUs, all given to the job) on the ECS NVIDIA AMI, Spot only, SPOT_PRICE_CAPACITY_OPTIMIZED', () => {
    const byType: Record<string, Json> = Object.fromEntries(environments().map(([, ce]) => [ce.Properties.ComputeResources.Type, ce.Properties.ComputeResources]));
    // On-Demand is a deliberate choice (onDemandFallback or spot=false), never there by default.
    expect(Object.keys(byType).sort()).toEqual(['SPOT']);
    expect(byType.SPOT.InstanceTypes).toEqual(['g4dn.2xlarge', 'g6.2xlarge', 'g5.2xlarge']);
    expect(byType.SPOT.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
    expect(byType.SPOT.MinvCpus).toBe(0);
    expect(byType.SPOT.AllocationStrategy).toBe('SPOT_PRICE_CAPACITY_OPTIMIZED');
    expect(byType.SPOT.MaxvCpus).toBe(256);
  });

  it('queues Spot first and On-Demand second only when asked (onDemandFallback)', () => {
    const withOnDemand = synthBackfill({ onDemandFallback: true });
    try {
      const resources = withOnDemand.template.findResources('AWS::Batch::ComputeEnvironment');
      const queue = Object.values(withOnDemand.template.findResources('AWS::Batch::JobQueue'))[0] as Json;
      const order = (queue.Properties.ComputeEnvironmentOrder as Json[]).sort((a, b) => a.Order - b.Order);
      const typeOf = (ref: Json) => (resources[ref['Fn::GetAtt'][0]] as Json).Properties.ComputeResources;
      expect(order.map((o) => typeOf(o.ComputeEnvironment).Type)).toEqual(['SPOT', 'EC2']);
      expect(typeOf(order[1].ComputeEnvironment).MaxvCpus).toBe(64);
    } finally {
      withOnDemand.cleanup();
    }
  });

  it('cancels worker jobs left RUNNABLE for lack of instance capacity, after capacityWaitMinutes', () => {
    const actions = only('AWS::Batch::JobQueue', 'ComputeQueue').Properties.JobStateTimeLimitActions as Json[];
    expect(actions).toContainEqual({ Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', MaxTimeSeconds: 240 * 60, Action: 'CANCEL', State: 'RUNNABLE' });
  });

  it('launches GPU instances with IMDSv2 out of the containers\' reach and an encrypted gp3 root volume', () => {
    const data = only('AWS::EC2::LaunchTemplate', 'Compute').Properties.LaunchTemplateData;
    expect(data.MetadataOptions).toEqual({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    expect(data.BlockDeviceMappings[0].Ebs).toMatchObject({ Encrypted: true, VolumeType: 'gp3', VolumeSize: 100 });
  });
});

describe('worker job definition', () => {
  const job = () => only('AWS::Batch::JobDefinition', 'ComputeWorkerJob').Properties;

  it('asks for one GPU, the configured vCPUs and memory, and a timeout', () => {
    expect(job().ContainerProperties.ResourceRequirements).toEqual(
      expect.arrayContaining([
        { Type: 'GPU', Value: '1' },
        { Type: 'VCPU', Value: '8' },
        { Type: 'MEMORY', Value: '14336' },
      ]),
    );
    expect(job().Timeout).toEqual({ AttemptDurationSeconds: 180 * 60 });
  });

  it('retries Spot reclaims, host and container-start failures and crashes, and exits on anything else', () => {
    const strategy = job().RetryStrategy;
    expect(strategy.Attempts).toBe(5);
    expect(strategy.EvaluateOnExit).toEqual([
      { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
      { Action: 'RETRY', OnReason: 'CannotPullContainerError*' },
      { Action: 'RETRY', OnReason: 'CannotStartContainerError*' },
      { Action: 'RETRY', OnExitCode: '1' },
      { Action: 'EXIT', OnReason: '*' },
    ]);
  });

  it('runs the worker image built from batch-worker/Dockerfile with CUDA and the default model', () => {
    const env = Object.fromEntries((job().ContainerProperties.Environment as Json[]).map((e) => [e.Name, flat(e.Value)]));
    expect(env.VISTA_PROVIDER).toBe('cuda');
    expect(env.VISTA_BATCH_SIZE).toBe('64');
    expect(env.VISTA_MODEL_URI).toMatch(/^s3:\/\/<StorageArtifacts[A-Z0-9]+>\/models\/clip-vit-b-32\/$/);
    const manifest = JSON.parse(fs.readFileSync(path.join(synth.outdir, `${synth.stack.stackName}.assets.json`), 'utf8'));
    const images = Object.values(manifest.dockerImages) as Json[];
    expect(images).toHaveLength(1);
    expect(images[0].source).toMatchObject({ dockerFile: 'batch-worker/Dockerfile', platform: 'linux/amd64' });
    // The allow-listed build context: the Dockerfile, package files and the worker code only.
    const context = path.join(synth.outdir, images[0].source.directory);
    expect(fs.existsSync(path.join(context, 'batch-worker', 'Dockerfile'))).toBe(true);
    expect(fs.existsSync(path.join(context, 'lib', 'core', 'pipeline', 'worker.ts'))).toBe(true);
    for (const absent of ['node_modules', '.vista', 'test', path.join('lib', 'infra')]) expect(fs.existsSync(path.join(context, absent))).toBe(false);
  });
});

describe('storage', () => {
  const buckets = () => Object.entries(resourcesOf('AWS::S3::Bucket'));
  const named = (prefix: string) => buckets().find(([id]) => id.startsWith(`Storage${prefix}`))!;

  it('creates source, work, vector-store, artifacts and logs buckets', () => {
    expect(buckets().map(([id]) => id.replace(/[A-F0-9]{8}$/, '')).sort()).toEqual(
      ['StorageArtifacts', 'StorageLogs', 'StorageSource', 'StorageVectorStore', 'StorageWork'].sort(),
    );
  });

  it('encrypts, blocks public access, and logs every bucket to the logs bucket', () => {
    const logsId = named('Logs')[0];
    for (const [id, bucket] of buckets()) {
      expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      if (id !== logsId) expect(bucket.Properties.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logsId });
    }
  });

  it('denies plain-HTTP access in every bucket policy', () => {
    const policies = Object.values(resourcesOf('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(5);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      );
    }
  });

  it('retains the source images and the vector store, versioned', () => {
    for (const name of ['Source', 'VectorStore']) {
      const [, bucket] = named(name);
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.UpdateReplacePolicy).toBe('Retain');
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    }
  });

  it('expires run files and incomplete multipart uploads', () => {
    const rules = named('Work')[1].Properties.LifecycleConfiguration.Rules as Json[];
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: 'work/runs/', ExpirationInDays: 30, Status: 'Enabled' }),
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
      ]),
    );
  });
});

describe('Batch index job', () => {
  const job = () => only('AWS::Batch::JobDefinition', 'IndexJob').Properties;

  it('runs on its own On-Demand EC2 environment of memory-optimised instances and queue, one job at a time', () => {
    const environment = only('AWS::Batch::ComputeEnvironment', 'IndexJob').Properties.ComputeResources;
    expect(environment).toMatchObject({ Type: 'EC2', MinvCpus: 0, MaxvCpus: 64, InstanceTypes: ['r7i.16xlarge', 'r6i.16xlarge'] });
    const queue = only('AWS::Batch::JobQueue', 'IndexJob').Properties;
    expect(queue.ComputeEnvironmentOrder).toEqual([{ ComputeEnvironment: { 'Fn::GetAtt': [expect.stringMatching(/^IndexJobEc2/), 'ComputeEnvironmentArn'] }, Order: 1 }]);
    // A 1 TiB encrypted gp3 root volume for the image and LanceDB's spill files; IMDSv2 only.
    const template = only('AWS::EC2::LaunchTemplate', 'IndexJob').Properties.LaunchTemplateData;
    expect(template.BlockDeviceMappings).toEqual([{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 1024, VolumeType: 'gp3' } }]);
    expect(template.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
  });

  it('cancels an index job no instance can take (capacity, resources), never one waiting behind another run\'s', () => {
    const actions = only('AWS::Batch::JobQueue', 'IndexJob').Properties.JobStateTimeLimitActions as Json[];
    expect(actions.map((a) => a.Reason).sort()).toEqual(['CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT']);
    expect(actions).toContainEqual({ Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', MaxTimeSeconds: 240 * 60, Action: 'CANCEL', State: 'RUNNABLE' });
  });

  it('gives the index Lambda 10 GiB of /tmp for LanceDB’s spill files', () => {
    const sizes = Object.entries(resourcesOf('AWS::Lambda::Function')).map(([, fn]) => [fn.Properties.Description, fn.Properties.EphemeralStorage]);
    expect(sizes).toContainEqual(['Vista backfill: builds the LanceDB indexes', { Size: 10_240 }]);
  });

  it('runs `vista backfill index --from-env` from the worker image, CPU only, with the configured size', () => {
    expect(job()).toMatchObject({ JobDefinitionName: 'VistaBackfill-index', PlatformCapabilities: ['EC2'], Timeout: { AttemptDurationSeconds: 5_760 * 60 } });
    const container = job().ContainerProperties;
    expect(container.Command).toEqual(INDEX_JOB_COMMAND);
    expect(container.ResourceRequirements).toEqual(expect.arrayContaining([{ Type: 'VCPU', Value: '64' }, { Type: 'MEMORY', Value: '491520' }]));
    expect(container.ResourceRequirements.some((r: Json) => r.Type === 'GPU')).toBe(false);
    const env = Object.fromEntries((container.Environment as Json[]).map((e) => [e.Name, flat(e.Value)]));
    expect(env.VISTA_DB_URI).toMatch(/^s3:\/\/<StorageVectorStore[A-F0-9]{8}>\/db$/);
    // The same image as the workers (one asset), and the job role of its own.
    expect(container.Image).toEqual(only('AWS::Batch::JobDefinition', 'ComputeWorkerJob').Properties.ContainerProperties.Image);
    expect(flat(container.JobRoleArn)).toMatch(/^<IndexJobJobRole[A-F0-9]{8}\.Arn>$/);
  });

  it('retries image-pull, start-up failures and exit code 1, and stops on anything else', () => {
    expect(job().RetryStrategy.Attempts).toBe(2);
    expect(job().RetryStrategy.EvaluateOnExit.at(-1)).toEqual({ Action: 'EXIT', OnReason: '*' });
  });
});

describe('network', () => {
  it('has an S3 gateway endpoint and no NAT gateway', () => {
    synth.template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.s3'])] }),
    });
    synth.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    synth.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
  });

  it('removes every rule of the VPC\'s default security group (nothing uses it)', () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
    expect(cdkJson.context['@aws-cdk/aws-ec2:restrictDefaultSecurityGroup']).toBe(true);
    synth.template.hasResourceProperties('Custom::VpcRestrictDefaultSG', {
      DefaultSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkVpc'), 'DefaultSecurityGroup'] },
    });
  });

  it('has the interface endpoints an ECS GPU instance needs, reachable from the workers only', () => {
    const interfaces = Object.values(resourcesOf('AWS::EC2::VPCEndpoint')).filter((e) => e.Properties.VpcEndpointType === 'Interface');
    const services = interfaces.map((e) => flat(e.Properties.ServiceName).replace(/^com\.amazonaws\.<AWS::Region>\./, ''));
    expect(services.sort()).toEqual(['ecr.api', 'ecr.dkr', 'ecs', 'ecs-agent', 'ecs-telemetry', 'logs', 'sts']);
    synth.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkWorkers'), 'GroupId'] }),
    });
  });
});

describe('state machine', () => {
  const definition = (): Json => {
    const machine = only('AWS::StepFunctions::StateMachine', 'Workflow');
    return JSON.parse(flat(machine.Properties.DefinitionString));
  };

  it('chains shard → planning maps → waves of Batch array jobs (.sync) → distributed load map → index → report', () => {
    const { StartAt, States } = definition();
    expect(StartAt).toBe(BackfillState.shard);
    expect(States[BackfillState.shard].Next).toBe(BackfillState.splitInputs);
    for (const [map, next] of [[BackfillState.splitInputs, BackfillState.dedupPartitions], [BackfillState.dedupPartitions, BackfillState.finishPlan]]) {
      expect(States[map]).toMatchObject({ Type: 'Map', Next: next, ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } } });
    }
    expect(States[BackfillState.finishPlan].Next).toBe(BackfillState.embed);
    expect(States[BackfillState.embed]).toMatchObject({ Type: 'Map', MaxConcurrencyPath: '$.waveConcurrency', Next: BackfillState.load });
    const wave = States[BackfillState.embed].ItemProcessor.States[BackfillState.embedWave];
    expect(wave.Resource).toMatch(/:states:::batch:submitJob\.sync$/);
    expect(wave.Catch.map((c: Json) => c.Next)).toEqual([BackfillState.embedWaveFailed]);
    expect(States[BackfillState.load].Type).toBe('Map');
    expect(States[BackfillState.load].ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(States[BackfillState.load].MaxConcurrency).toBe(8);
    expect(States[BackfillState.load].Next).toBe(BackfillState.index);
    expect(States[BackfillState.index].Next).toBe(BackfillState.indexHandedOff);
    expect(States[BackfillState.indexHandedOff]).toMatchObject({ Default: BackfillState.report, Choices: [{ Next: BackfillState.indexOnBatch }] });
    expect(States[BackfillState.indexOnBatch].Next).toBe(BackfillState.report);
  });

  it('hands tables of indexJobMinRows (1M) rows and more from the index Lambda to the Batch index job', () => {
    const { States } = definition();
    expect(States[BackfillState.index].Parameters.Payload).toEqual({ 'dbUri.$': '$.dbUri', batchFromRows: 1_000_000 });
    const onBatch = States[BackfillState.indexOnBatch];
    expect(onBatch.Resource).toMatch(/:states:::batch:submitJob\.sync$/);
    expect(onBatch.Parameters.JobQueue).toMatch(/^<IndexJobQueue[A-F0-9]{8}\.JobQueueArn>$/);
    expect(onBatch.Parameters.JobDefinition).toMatch(/^<IndexJob[A-F0-9]{8}>$/);
    expect(onBatch.Parameters.ContainerOverrides).toEqual({ Command: INDEX_JOB_COMMAND, Environment: [{ Name: 'VISTA_DB_URI', 'Value.$': '$.dbUri' }] });
    // Bounded inside the execution's 7 days, so that the report still runs after a stuck job.
    expect(onBatch.TimeoutSeconds).toBe(84 * 3600);
    expect(onBatch.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: BackfillState.report })]);
  });

  it('leaves retries to the job definition (no SubmitJob-level retry strategy)', () => {
    const wave = definition().States[BackfillState.embed].ItemProcessor.States[BackfillState.embedWave];
    expect(wave.Parameters.ArrayProperties).toBeDefined();
    expect(wave.Parameters.RetryStrategy).toBeUndefined();
  });

  it('logs everything to CloudWatch Logs and traces with X-Ray', () => {
    const props = only('AWS::StepFunctions::StateMachine', 'Workflow').Properties;
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
  });
});

describe('functions', () => {
  it('run Node 22 on x86_64 with active tracing and their own log group (the four steps and the queue watch)', () => {
    const functions = Object.entries(resourcesOf('AWS::Lambda::Function'))
      .filter(([id]) => !id.startsWith('CustomVpcRestrictDefaultSG'))
      .map(([, fn]) => fn);
    expect(functions).toHaveLength(5);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['x86_64'], TracingConfig: { Mode: 'Active' } });
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
  });

  it('ships LanceDB in a layer holding the linux-x64 native module, loadable without the repository', () => {
    const layer = only('AWS::Lambda::LayerVersion');
    const dir = stagedAssetDir(synth.outdir, synth.stack.stackName, layer.Properties.Content.S3Key);
    expect(fs.statSync(path.join(dir, LAYER_NODE_MODULES, LANCEDB_BINARY)).size).toBeGreaterThan(10_000_000);
    // As on Lambda: modules resolve from /opt/nodejs/node_modules only.
    const out = execFileSync(
      process.execPath,
      ['-e', "const l = require('@lancedb/lancedb'); require('apache-arrow'); process.stdout.write(typeof l.connect)"],
      { cwd: os.tmpdir(), env: { PATH: process.env.PATH, NODE_PATH: path.join(dir, LAYER_NODE_MODULES) }, encoding: 'utf8' },
    );
    expect(out).toBe('function');
  });

  it('gives the layer to the LanceDB functions only, which do not bundle it', () => {
    const functions = resourcesOf('AWS::Lambda::Function');
    const withLayer = Object.keys(functions).filter((id) => functions[id].Properties.Layers?.length);
    expect(withLayer.map((id) => id.replace(/[A-F0-9]{8}$/, '')).sort()).toEqual(['FunctionsIndex', 'FunctionsLoad']);
    for (const id of withLayer) {
      const bundle = fs.readFileSync(path.join(stagedAssetDir(synth.outdir, synth.stack.stackName, functions[id].Properties.Code.S3Key), 'index.js'), 'utf8');
      expect(bundle).toMatch(/require\("@lancedb\/lancedb"\)/);
      expect(bundle).not.toMatch(/lancedb\.linux-x64-gnu\.node/);
    }
  });
});

describe('observability', () => {
  it('has a dashboard, alarms, and Batch job states from EventBridge as a metric', () => {
    synth.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(Object.keys(resourcesOf('AWS::CloudWatch::Alarm')).map((id) => id.replace(/^Observability|[A-F0-9]{8}$/g, '')).sort()).toEqual(
      ['ExecutionsFailed', 'FailedBatchJobs', 'ImageFailureRate', 'LambdaErrors', 'QueueStalledGpu', 'QueueStalledIndexJob'],
    );
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.batch'], 'detail-type': ['Batch Job State Change'] }),
    });
    synth.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      MetricTransformations: [Match.objectLike({ MetricNamespace: 'Vista', Dimensions: [{ Key: 'Status', Value: '$.detail.status' }] })],
    });
  });

  it('alarms on shards that failed for good (final FAILED of array children), not on attempts or the array job', () => {
    const alarm = only('AWS::CloudWatch::Alarm', 'ObservabilityFailedBatchJobs').Properties;
    expect(alarm).toMatchObject({ Namespace: 'Vista', MetricName: 'BatchShardsFailed', Statistic: 'Sum', Period: 900, Threshold: 5 });
    expect(alarm.Dimensions).toBeUndefined();
    expect(alarm.AlarmDescription).toMatch(/shards \(Batch array children\) failed for good/);
    expect(alarm.AlarmDescription).toMatch(/retried attempts and the array job itself are not counted/);
    const filter = Object.values(resourcesOf('AWS::Logs::MetricFilter')).find((f) => f.Properties.MetricTransformations[0].MetricName === 'BatchShardsFailed');
    expect(filter?.Properties.FilterPattern).toBe('{ ($.detail.status = "FAILED") && ($.detail.arrayProperties.index >= 0) }');
  });

  it('measures both job queues every 5 minutes and alarms on jobs RUNNABLE with none starting for alarmQueueStalledMinutes', () => {
    const fnId = Object.entries(resourcesOf('AWS::Lambda::Function')).find(([id]) => id.startsWith('QueueWatchFunction'))![0];
    const fn = resourcesOf('AWS::Lambda::Function')[fnId].Properties;
    const queueIds = ['ComputeQueue', 'IndexJobQueue'].map((prefix) => Object.keys(resourcesOf('AWS::Batch::JobQueue')).find((id) => id.startsWith(prefix))!);
    // The queues' names (Ref of a JobQueue is its ARN; the name is taken from it) are what the Lambda lists and the metrics' dimension.
    expect(JSON.stringify(fn.Environment.Variables.VISTA_WATCHED_JOB_QUEUES)).toContain(queueIds[0]);
    expect(JSON.stringify(fn.Environment.Variables.VISTA_WATCHED_JOB_QUEUES)).toContain(queueIds[1]);
    const rule = Object.values(resourcesOf('AWS::Events::Rule')).find((r) => JSON.stringify(r.Properties.Targets ?? []).includes(fnId))!;
    expect(rule.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    const policies = Object.values(resourcesOf('AWS::IAM::Policy')).filter((p) => p.Properties.Roles.some((r: Json) => JSON.stringify(r).includes('QueueWatch')));
    expect(JSON.stringify(policies)).toContain('batch:ListJobs');
    for (const [name, queueId] of [['Gpu', queueIds[0]], ['IndexJob', queueIds[1]]]) {
      const alarm = only('AWS::CloudWatch::Alarm', `ObservabilityQueueStalled${name}`).Properties;
      expect(alarm).toMatchObject({ Namespace: 'Vista', MetricName: 'BatchQueueStalledSeconds', Statistic: 'Maximum', Period: 300, Threshold: 3600 });
      expect(alarm.Dimensions).toHaveLength(1);
      expect(alarm.Dimensions[0].Name).toBe('JobQueue');
      expect(JSON.stringify(alarm.Dimensions[0].Value)).toContain(queueId);
    }
    const custom = synthBackfill({ alarmQueueStalledMinutes: 120, alarmTopic: true });
    try {
      const alarms = Object.entries(custom.template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) => id.startsWith('ObservabilityQueueStalled'));
      expect(alarms.map(([, a]) => a.Properties.Threshold)).toEqual([7200, 7200]);
      for (const [, a] of alarms) expect(a.Properties.AlarmActions).toHaveLength(1);
    } finally {
      custom.cleanup();
    }
  });
});

it('has no unacknowledged cdk-nag AwsSolutions finding (errors or warnings)', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
