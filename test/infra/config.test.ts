import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { InfraConfigError, parseInfraConfig, readInfraConfig } from '../../lib/infra/config';
import { REPO_ROOT } from '../../lib/infra/paths';

const cdkJsonContext = () =>
  (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

describe('parseInfraConfig', () => {
  it('fills every field from its default', () => {
    const config = parseInfraConfig({});
    expect(config).toMatchObject({
      stackName: 'VistaBackfill',
      egress: 'endpoints',
      instanceTypes: ['g4dn.2xlarge', 'g6.2xlarge', 'g5.2xlarge'],
      jobVcpus: 8,
      spot: true,
      onDemandFallback: false,
      maxVcpus: 256,
      jobAttempts: 5,
      sourcePrefix: '',
      encryption: 'S3_MANAGED',
      logRetentionDays: 90,
    });
    expect(config.sourceBucketName).toBeUndefined();
  });

  it('reads command-line strings (-c vista:key=value): numbers, booleans, comma-separated lists', () => {
    const config = parseInfraConfig({ maxVcpus: '1024', spot: 'false', instanceTypes: 'g6.xlarge, g5', sourceBucketName: 'photos' });
    expect(config).toMatchObject({ maxVcpus: 1024, spot: false, instanceTypes: ['g6.xlarge', 'g5'], sourceBucketName: 'photos' });
  });

  it('names every invalid field, with the context key to fix', () => {
    let error: InfraConfigError | undefined;
    try {
      parseInfraConfig({ logRetentionDays: 31, egress: 'vpn', jobVcpus: 8, onDemandMaxVcpus: 4, sourcePrefix: 'no-trailing-slash' });
    } catch (e) {
      error = e as InfraConfigError;
    }
    expect(error).toBeInstanceOf(InfraConfigError);
    const keys = error!.issues.map((i) => i.split(':').slice(0, 2).join(':'));
    expect(keys.sort()).toEqual(['vista:egress', 'vista:logRetentionDays', 'vista:sourcePrefix']);
  });

  it('checks fields against each other', () => {
    expect(() => parseInfraConfig({ jobVcpus: 8, onDemandMaxVcpus: 4, onDemandFallback: true })).toThrow(/vista:onDemandMaxVcpus: must be ≥ jobVcpus \(8\)/);
    // Spot off is the deliberate way to run On-Demand only.
    expect(parseInfraConfig({ spot: false })).toMatchObject({ spot: false, onDemandFallback: false });
    expect(() => parseInfraConfig({ sourceKmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/x' })).toThrow(/vista:sourceKmsKeyArn/);
    expect(() => parseInfraConfig({ availabilityZones: 'eu-west-1a,eu-west-1b' })).toThrow(/needs region/);
  });
});

describe('artifact paths', () => {
  it('must lie under the prefixes the worker job role can read (models/, taxonomies/)', () => {
    expect(() => parseInfraConfig({ modelPath: 'clip-vit-b-32' })).toThrow(
      /vista:modelPath: the model folder must be under "models\/" in the artifacts bucket .*may read only models\/\*, taxonomies\/\* and label-banks\/\*/,
    );
    expect(() => parseInfraConfig({ taxonomyPath: 'hotel-v2.json' })).toThrow(/vista:taxonomyPath: the taxonomy file must be under "taxonomies\/"/);
    expect(() => parseInfraConfig({ taxonomyPath: 'models/hotel-v2.json' })).toThrow(/vista:taxonomyPath/);
    expect(() => parseInfraConfig({ modelPath: 'label-banks/clip' })).toThrow(/vista:modelPath/);
  });

  it('rejects the bare prefix and paths that climb out of it', () => {
    for (const modelPath of ['models/', 'models', 'models/../secrets', 'models/./x', 'modelsx/clip']) {
      expect(() => parseInfraConfig({ modelPath })).toThrow(/vista:modelPath/);
    }
  });

  it('accepts paths under the granted prefixes', () => {
    expect(parseInfraConfig({ modelPath: 'models/siglip/v2', taxonomyPath: 'taxonomies/hotel-v2.json' })).toMatchObject({
      modelPath: 'models/siglip/v2',
      taxonomyPath: 'taxonomies/hotel-v2.json',
    });
  });
});

describe('Batch index job', () => {
  it('takes tables of 1M rows and more by default, on a memory-optimised EC2 instance sized for 500M rows', () => {
    expect(parseInfraConfig({})).toMatchObject({
      indexJobMinRows: 1_000_000,
      indexJobInstanceTypes: ['r7i.16xlarge', 'r6i.16xlarge'],
      indexJobVcpus: 64,
      indexJobMemoryMiB: 491_520,
      indexJobStorageGiB: 1_024,
      indexJobTimeoutMinutes: 5_760,
      indexEphemeralStorageMiB: 10_240,
    });
    expect(parseInfraConfig({ indexJobMinRows: '0' }).indexJobMinRows).toBe(0);
  });

  it('accepts memory-optimised instance types only', () => {
    expect(parseInfraConfig({ indexJobInstanceTypes: 'r7i.8xlarge,x2idn.16xlarge', indexJobVcpus: '32', indexJobMemoryMiB: '245760' })).toMatchObject({
      indexJobInstanceTypes: ['r7i.8xlarge', 'x2idn.16xlarge'],
      indexJobVcpus: 32,
      indexJobMemoryMiB: 245_760,
    });
    expect(() => parseInfraConfig({ indexJobInstanceTypes: 'c7i.16xlarge' })).toThrow(/vista:indexJobInstanceTypes: "c7i.16xlarge": a memory-optimised type/);
    expect(() => parseInfraConfig({ indexJobStorageGiB: 50 })).toThrow(/vista:indexJobStorageGiB/);
    expect(() => parseInfraConfig({ indexEphemeralStorageMiB: 20_000 })).toThrow(/vista:indexEphemeralStorageMiB/);
  });
});

describe('real-time path', () => {
  it('defaults to one ml.g5.xlarge (CUDA 12 driver AMI) scaling to two, a throttled API, a bounded upload consumer', () => {
    expect(parseInfraConfig({})).toMatchObject({
      servingStackName: 'VistaServing',
      endpointInstanceType: 'ml.g5.xlarge',
      endpointInferenceAmiVersion: 'al2-ami-sagemaker-inference-gpu-3-1',
      endpointInitialInstanceCount: 1,
      endpointMinInstances: 1,
      endpointMaxInstances: 2,
      apiThrottleRate: 50,
      apiThrottleBurst: 100,
      apiTimeoutSeconds: 25,
      uploadBatchSize: 10,
      uploadMaxConcurrency: 4,
      uploadMaxReceiveCount: 5,
      uploadSuffixes: [],
    });
  });

  it('keeps the API function under the integration timeout and the instance counts consistent', () => {
    expect(() => parseInfraConfig({ apiTimeoutSeconds: 29 })).toThrow(/vista:apiTimeoutSeconds/);
    expect(() => parseInfraConfig({ endpointMinInstances: 3, endpointMaxInstances: 2 })).toThrow(/vista:endpointMaxInstances: must be ≥ endpointMinInstances/);
    expect(() => parseInfraConfig({ endpointInitialInstanceCount: 5 })).toThrow(/vista:endpointInitialInstanceCount/);
    expect(() => parseInfraConfig({ endpointInstanceType: 'g5.xlarge' })).toThrow(/vista:endpointInstanceType/);
    expect(() => parseInfraConfig({ servingStackName: 'VistaBackfill' })).toThrow(/vista:servingStackName/);
    expect(() => parseInfraConfig({ uploadMaxConcurrency: 1 })).toThrow(/vista:uploadMaxConcurrency/);
    expect(() => parseInfraConfig({ uploadBatchSize: 50, uploadBatchingWindowSeconds: 0 })).toThrow(/vista:uploadBatchingWindowSeconds/);
  });

  it('refuses upload suffixes S3 would reject as overlapping filters', () => {
    expect(parseInfraConfig({ uploadSuffixes: '.jpg, .jpeg,.JPG' }).uploadSuffixes).toEqual(['.jpg', '.jpeg', '.JPG']);
    expect(() => parseInfraConfig({ uploadSuffixes: '.jpg,jpg' })).toThrow(/vista:uploadSuffixes: "\.jpg" overlaps "jpg"/);
    expect(() => parseInfraConfig({ uploadSuffixes: '.png,.png' })).toThrow(/vista:uploadSuffixes/);
    expect(() => parseInfraConfig({ uploadSuffixes: '*.png' })).toThrow(/vista:uploadSuffixes/);
  });

  it('deploys the explorer by default, its function under the integration timeout', () => {
    const config = parseInfraConfig({});
    expect(config).toMatchObject({ explorer: true, explorerMemoryMiB: 2048, explorerTimeoutSeconds: 25, explorerThrottleRate: 50, explorerThrottleBurst: 100 });
    expect(config.explorerAuthDomainPrefix).toBeUndefined();
    expect(parseInfraConfig({ explorer: 'false' }).explorer).toBe(false);
    expect(() => parseInfraConfig({ explorerTimeoutSeconds: 29 })).toThrow(/vista:explorerTimeoutSeconds/);
  });

  it('takes only a Cognito domain prefix Cognito accepts', () => {
    expect(parseInfraConfig({ explorerAuthDomainPrefix: 'acme-vista-explorer' }).explorerAuthDomainPrefix).toBe('acme-vista-explorer');
    for (const bad of ['Acme', '-acme', 'acme-', 'my-aws-explorer', 'amazon-photos', 'cognito1', 'a_b', 'x'.repeat(64)]) {
      expect(() => parseInfraConfig({ explorerAuthDomainPrefix: bad })).toThrow(/vista:explorerAuthDomainPrefix/);
    }
  });
});

describe('readInfraConfig', () => {
  it('accepts the defaults committed in cdk.json', () => {
    expect(readInfraConfig(new App({ context: cdkJsonContext() }))).toEqual(parseInfraConfig({}));
  });

  it('lets -c overrides win over cdk.json', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'vista:maxVcpus': '512', 'vista:sourceBucketName': 'existing-images' } });
    expect(readInfraConfig(app)).toMatchObject({ maxVcpus: 512, sourceBucketName: 'existing-images' });
  });
});
