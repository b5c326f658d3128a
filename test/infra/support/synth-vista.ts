/**
 * Synthesizes the whole app the way `npx cdk synth` does (bin/app.ts: both stacks through
 * addVistaStacks, cdk.json's context and feature flags, cdk-nag registered on the app), into a
 * temporary folder. Cross-stack references are only resolved when the whole app is synthesized,
 * so the serving stack is always tested next to the backfill stack it reads from.
 */
import * as fs from 'node:fs';
import { App, Validations, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readInfraConfig, type InfraConfig, type InfraConfigInput } from '../../../lib/infra/config';
import { addVistaStacks, type VistaStacks } from '../../../lib/infra/vista-app';
import { appLikeCdkSynth, type SynthOptions } from './synth';

export interface SynthesizedApp {
  app: App;
  config: InfraConfig;
  stacks: VistaStacks;
  backfill: Template;
  serving: Template;
  /** cdk-nag AwsSolutions findings left after acknowledgements, across both stacks. */
  nag: PolicyValidationPluginReport;
  outdir: string;
  cleanup(): void;
}

export function synthVista(overrides: InfraConfigInput = {}, options: SynthOptions = {}): SynthesizedApp {
  const { app, outdir } = appLikeCdkSynth(overrides);
  const config = readInfraConfig(app);
  const stacks = addVistaStacks(app, config);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  const previous = process.env.CDK_VALIDATION;
  if (options.cfnValidation === false) process.env.CDK_VALIDATION = 'false';
  let serving: Template;
  let backfill: Template;
  try {
    // The first call synthesizes the whole app (and runs the validation plugins once).
    serving = Template.fromStack(stacks.serving);
    backfill = Template.fromStack(stacks.backfill);
  } finally {
    if (previous === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previous;
  }
  const nag = new AwsSolutionsChecks().validateScope(app);
  return { app, config, stacks, backfill, serving, nag, outdir, cleanup: () => fs.rmSync(outdir, { recursive: true, force: true }) };
}

/** `{"Fn::GetStackOutput": {…, "OutputName": "PublishOutputFnGetAttStorageWork…Arn…"}}` (a weak cross-stack reference) → `<backfill:StorageWork…>`. */
export function flatCrossStack(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = (value ?? {}) as Record<string, unknown>;
  if (o['Fn::GetStackOutput']) {
    const output = (o['Fn::GetStackOutput'] as { OutputName: string }).OutputName;
    const match = /^PublishOutput(Ref|FnGetAtt)(.+?)([A-F0-9]{8})(Arn)?[A-F0-9]{8}$/.exec(output);
    return match ? `<backfill:${match[2]}${match[4] ? '.Arn' : ''}>` : `<backfill:${output}>`;
  }
  if (Array.isArray(o['Fn::Join'])) {
    const [delimiter, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(flatCrossStack).join(delimiter);
  }
  if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  if (typeof o.Ref === 'string') return `<${o.Ref}>`;
  if (typeof o['Fn::Sub'] === 'string') return o['Fn::Sub'] as string;
  return JSON.stringify(value);
}
