/** The Retag state machine construct: its shape, its job's command and grants, and cdk-nag. */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import * as fs from 'node:fs';
import { readInfraConfig } from '../../lib/infra/config';
import { VistaNetwork } from '../../lib/infra/network';
import { RetagWorkflow } from '../../lib/infra/retag/retag-workflow';
import { VistaStorage } from '../../lib/infra/storage';
import { appLikeCdkSynth, describeFindings, flat } from './support/synth';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const { app, outdir } = appLikeCdkSynth();
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));
const config = readInfraConfig(app);
const stack = new Stack(app, 'RetagTest', { env: { account: '111111111111', region: 'eu-west-1' } });
const storage = new VistaStorage(stack, 'Storage', config);
const network = new VistaNetwork(stack, 'Network', { config, logsBucket: storage.logsBucket });
const retag = new RetagWorkflow(stack, 'Retag', { storage, network, image: ecs.ContainerImage.fromRegistry('vista-worker:test'), modelPath: config.modelPath, partitions: 8 });
// CloudFormation schema validation costs seconds and is run by the backfill stack's test.
process.env.CDK_VALIDATION = 'false';
const template = Template.fromStack(stack);
delete process.env.CDK_VALIDATION;
const resources = (type: string): Json[] => Object.values(template.findResources(type));

it('runs an array job of N partitions, then one run over every shard for the report', () => {
  const [machine] = resources('AWS::StepFunctions::StateMachine');
  const definition = JSON.parse(flat(machine.Properties.DefinitionString).replace(/<[^>]+>/g, 'X')) as Json;
  expect(definition.StartAt).toBe('RetagShards');
  expect(definition.States.RetagShards.Resource).toMatch(/batch:submitJob\.sync$/);
  expect(definition.States.RetagShards.Parameters.ArrayProperties).toEqual({ Size: 8 });
  expect(definition.States.RetagShards.Parameters.Parameters).toEqual({ 'taxonomy.$': '$.taxonomyUri', partitions: '8' });
  expect(definition.States.RetagShards.Next).toBe('RetagReport');
  expect(definition.States.RetagReport.Parameters.Parameters).toEqual({ 'taxonomy.$': '$.taxonomyUri', partitions: '1' });
  expect(definition.States.RetagReport.End).toBe(true);
  // A failed child does not skip the catch-up run over every shard.
  expect(definition.States.RetagShards.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.shardsFailure', Next: 'RetagReport' }]);
});

it('can cancel its array job (TerminateJob) and submits only the retag job definition\'s revisions', () => {
  const statements = resources('AWS::IAM::Policy')
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
    .map((st) => ({ actions: ([] as string[]).concat(st.Action), resources: ([] as unknown[]).concat(st.Resource).map(flat) }));
  const on = (action: string) => statements.filter((st) => st.actions.includes(action)).flatMap((st) => st.resources);
  expect(on('batch:TerminateJob')).toEqual([expect.stringMatching(/:batch:eu-west-1:111111111111:job\/\*$/)]);
  expect(on('batch:DescribeJobs')).toEqual(['*']);
  expect(on('batch:SubmitJob').filter((r) => r.includes('job-definition'))).toEqual([expect.stringMatching(/job-definition\/RetagTest-retag:\*$/)]);
});

it('does not retry a child that failed on its arguments (exit 2): only host, image and exit-1 failures', () => {
  const [job] = resources('AWS::Batch::JobDefinition');
  const rules = job.Properties.RetryStrategy.EvaluateOnExit as Json[];
  expect(rules.find((r) => r.OnExitCode === '1')?.Action).toBe('RETRY');
  expect(rules[rules.length - 1]).toEqual({ Action: 'EXIT', OnReason: '*' });
});

it('runs the CLI\'s vista retag on Fargate with the partition parameters', () => {
  const [job] = resources('AWS::Batch::JobDefinition');
  const command = (job.Properties.ContainerProperties.Command as unknown[]).map(flat);
  expect(command.slice(0, 4)).toEqual(['node', 'bin/vista.js', 'retag', '--json']);
  expect(command).toEqual(expect.arrayContaining(['--taxonomy', 'Ref::taxonomy', '--partitions', 'Ref::partitions', '--db', '--model', '--cache']));
  expect(job.Properties.PlatformCapabilities).toEqual(['FARGATE']);
  expect(retag.partitions).toBe(8);
});

it('grants the job the store, the model, taxonomies and the label-bank cache, nothing else', () => {
  const policies = resources('AWS::IAM::Policy').filter((p) => JSON.stringify(p.Properties.Roles).includes('RetagJobRole'));
  const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
  const objectResources = statements.flatMap((s) => [s.Resource].flat().map(flat)).filter((r) => r.includes('/'));
  for (const r of objectResources) expect(r).toMatch(/\/(db|models\/[^/]+|taxonomies|label-banks)\/\*$/);
});

it('has no unacknowledged cdk-nag AwsSolutions finding in the Retag construct', () => {
  const report = new AwsSolutionsChecks().validateScope(app);
  expect(describeFindings(report).filter((f) => f.includes('Retag'))).toEqual([]);
});
