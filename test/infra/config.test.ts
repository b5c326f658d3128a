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
      instanceTypes: ['g5.xlarge', 'g6.xlarge', 'g4dn.xlarge'],
      spot: true,
      onDemandFallback: true,
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
    expect(() => parseInfraConfig({ jobVcpus: 8, onDemandMaxVcpus: 4 })).toThrow(/vista:onDemandMaxVcpus: must be ≥ jobVcpus \(8\)/);
    expect(() => parseInfraConfig({ spot: false, onDemandFallback: false })).toThrow(/vista:spot/);
    expect(() => parseInfraConfig({ sourceKmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/x' })).toThrow(/vista:sourceKmsKeyArn/);
    expect(() => parseInfraConfig({ availabilityZones: 'eu-west-1a,eu-west-1b' })).toThrow(/needs region/);
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
