/**
 * Synthesizes the backfill stack the way `npx cdk synth` does (cdk.json's context and feature
 * flags, cdk-nag registered on the app), into a temporary folder: once per test file, because
 * synthesis bundles four Lambdas with esbuild and stages the ~190 MB LanceDB layer.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations, type PolicyValidationPluginReport } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BackfillStack } from '../../../lib/infra/backfill/backfill-stack';
import { CONTEXT_PREFIX, readInfraConfig, type InfraConfigInput } from '../../../lib/infra/config';
import { REPO_ROOT } from '../../../lib/infra/paths';

export interface Synthesized {
  stack: BackfillStack;
  template: Template;
  /** cdk-nag AwsSolutions findings left after acknowledgements (errors and warnings). */
  nag: PolicyValidationPluginReport;
  outdir: string;
  cleanup(): void;
}

export interface SynthOptions {
  /**
   * Run CDK's built-in CloudFormation schema validation (what `cdk synth` does). It costs ~9 s a
   * synthesis, so one test file runs it and the others skip it.
   * @default true
   */
  cfnValidation?: boolean;
}

/**
 * An App as `npx cdk synth` makes it: cdk.json's context with `vista:*` overrides, synthesizing
 * into a temporary folder outside the repository (so nothing staged there can resolve modules from
 * its node_modules).
 */
export function appLikeCdkSynth(overrides: InfraConfigInput = {}): { app: App; outdir: string } {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const context: Record<string, unknown> = { ...cdkJson.context };
  for (const [key, value] of Object.entries(overrides)) context[`${CONTEXT_PREFIX}${key}`] = value;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'vista-cdk-'));
  return { app: new App({ outdir, context }), outdir };
}

export function synthBackfill(overrides: InfraConfigInput = {}, options: SynthOptions = {}): Synthesized {
  const { app, outdir } = appLikeCdkSynth(overrides);
  const config = readInfraConfig(app);
  const stack = new BackfillStack(app, config.stackName, { config });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  const previous = process.env.CDK_VALIDATION;
  if (options.cfnValidation === false) process.env.CDK_VALIDATION = 'false';
  let template: Template;
  try {
    template = Template.fromStack(stack);
  } finally {
    if (previous === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = previous;
  }
  const nag = new AwsSolutionsChecks().validateScope(app);
  return { stack, template, nag, outdir, cleanup: () => fs.rmSync(outdir, { recursive: true, force: true }) };
}

/** One line per unacknowledged finding, readable in a failed expectation. */
export function describeFindings(report: PolicyValidationPluginReport): string[] {
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}`));
}

/** The staged folder of a file asset, from the S3 key the template references (`<hash>.zip`). */
export function stagedAssetDir(outdir: string, stackName: string, s3Key: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, `${stackName}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string } }>;
  };
  const hash = s3Key.replace(/\.zip$/, '');
  const entry = manifest.files[hash];
  if (!entry) throw new Error(`no file asset ${hash} in ${stackName}.assets.json`);
  return path.join(outdir, entry.source.path);
}

type Json = Record<string, unknown>;

/** Resolves the simple intrinsics of a template value to readable strings (`<Logical.Attr>`, `<Logical>`). */
export function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = (value ?? {}) as Json;
  if (Array.isArray(o['Fn::Join'])) return ((o['Fn::Join'] as [string, unknown[]])[1] ?? []).map(flat).join((o['Fn::Join'] as [string])[0]);
  if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  if (typeof o.Ref === 'string') return `<${o.Ref}>`;
  return JSON.stringify(value);
}

export interface Statement {
  effect: string;
  actions: string[];
  resources: string[];
  /** The statement's Condition block, as in the template (absent when unconditional). */
  condition?: Record<string, Record<string, unknown>>;
}

/** Every Allow/Deny statement of the IAM policies attached to a role (by the role's logical id). */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const statements: Statement[] = [];
  for (const policy of Object.values(policies) as Json[]) {
    const props = policy.Properties as Json;
    const roles = (props.Roles as unknown[]).map(flat);
    if (!roles.includes(`<${roleLogicalId}>`)) continue;
    for (const s of (props.PolicyDocument as Json).Statement as Json[]) {
      const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
      statements.push({
        effect: s.Effect as string,
        actions: list(s.Action) as string[],
        resources: list(s.Resource).map(flat),
        ...(s.Condition ? { condition: s.Condition as Statement['condition'] } : {}),
      });
    }
  }
  return statements;
}

/** Logical id of the single resource of a type whose id starts with a prefix (e.g. "ComputeJobRole"). */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}
