/**
 * The backfill's Amazon States Language definition, taken from the CDK construct itself: a
 * throwaway stack (no Docker, no credentials) holds `BackfillWorkflow` with placeholder
 * functions and Batch ARNs, is synthesized in-process, and its DefinitionString is resolved to
 * plain JSON. The local runner executes exactly this; a test proves it equals the production
 * stack's definition except for resource ARNs.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

export type AslDefinition = { StartAt: string; States: Record<string, AslState>; [key: string]: unknown };
export type AslState = { Type: string; Resource?: string; [key: string]: unknown };

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_JOB_QUEUE_ARN = `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job-queue/vista-local`;
export const LOCAL_JOB_DEFINITION_ARN = `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job-definition/vista-local-worker:1`;
export const localFunctionArn = (name: string) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:vista-local-${name}`;

/** Deployment tuning the local definition can mirror (the rest of the props are resource ARNs). */
export interface LocalDefinitionOptions {
  loadConcurrency?: number;
  jobAttempts?: number;
  /** Include the Batch index job for tables of this many rows or more. */
  indexJobMinRows?: number;
}

const cache = new Map<string, string>();

/** The definition the local runner executes (a fresh copy each call). */
export function synthesizeLocalDefinition(options: LocalDefinitionOptions = {}): AslDefinition {
  const key = JSON.stringify(options);
  if (!cache.has(key)) cache.set(key, JSON.stringify(synthesize(options)));
  // A JSON round trip, not structuredClone: under jest's VM realms, structuredClone's objects
  // have another realm's Object.prototype and the interpreter takes them for non-plain objects.
  return JSON.parse(cache.get(key)!) as AslDefinition;
}

function synthesize(options: LocalDefinitionOptions): AslDefinition {
  // Loaded here, not at the top: the construct pulls in all of aws-cdk-lib's Step Functions.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { BackfillWorkflow } = require('../../infra/backfill/workflow') as typeof import('../../infra/backfill/workflow');
  const app = new App();
  const stack = new Stack(app, 'VistaLocalBackfill', { env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION } });
  const fn = (name: string) => lambda.Function.fromFunctionArn(stack, `${name}Function`, localFunctionArn(name));
  new BackfillWorkflow(stack, 'Backfill', {
    shardFunction: fn('shard'),
    loadFunction: fn('load'),
    indexFunction: fn('index'),
    reportFunction: fn('report'),
    jobQueueArn: LOCAL_JOB_QUEUE_ARN,
    jobDefinitionArn: LOCAL_JOB_DEFINITION_ARN,
    loadConcurrency: options.loadConcurrency,
    jobAttempts: options.jobAttempts,
    ...(options.indexJobMinRows !== undefined
      ? { indexJob: { jobQueueArn: LOCAL_JOB_QUEUE_ARN, jobDefinitionArn: LOCAL_JOB_DEFINITION_ARN, minRows: options.indexJobMinRows } }
      : {}),
  });
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  return definitionFromTemplate(template);
}

export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** The definition of the template's one state machine (or the one whose logical id starts with `logicalIdPrefix`). */
export function definitionFromTemplate(template: CfnTemplate, logicalIdPrefix = ''): AslDefinition {
  const machines = Object.entries(template.Resources).filter(
    ([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith(logicalIdPrefix),
  );
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const raw = resolveIntrinsics(machines[0][1].Properties?.DefinitionString);
  if (typeof raw !== 'string') throw new Error('DefinitionString did not resolve to a string');
  return JSON.parse(raw) as AslDefinition;
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Resolves Fn::Join, pseudo-parameter Refs, and resource Refs/GetAtts (to `<LogicalId.Attr>` placeholders). */
export function resolveIntrinsics(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveIntrinsics);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if ('Fn::Join' in obj) {
    const [separator, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveIntrinsics(p))).join(separator);
  }
  if ('Ref' in obj) {
    const ref = obj.Ref as string;
    return PSEUDO[ref] ?? `<${ref}>`;
  }
  if ('Fn::GetAtt' in obj) {
    const att = obj['Fn::GetAtt'];
    return `<${Array.isArray(att) ? att.join('.') : String(att)}>`;
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveIntrinsics(v)]));
}

const ARN_FIELDS = new Set(['FunctionName', 'JobQueue', 'JobDefinition']);

/** The definition with the values that name deployed resources replaced by `<arn>`: what "same definition" means. */
export function withoutResourceArns(definition: unknown): unknown {
  if (Array.isArray(definition)) return definition.map(withoutResourceArns);
  if (definition === null || typeof definition !== 'object') return definition;
  return Object.fromEntries(
    Object.entries(definition as Record<string, unknown>).map(([k, v]) => [
      k,
      ARN_FIELDS.has(k) && typeof v === 'string' ? '<arn>' : withoutResourceArns(v),
    ]),
  );
}

/** Every Task state, Map item processors included, with its name. */
export function taskStates(definition: { States: Record<string, AslState> }): [string, AslState][] {
  const found: [string, AslState][] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Task') found.push([name, state]);
    const inner = (state.ItemProcessor ?? state.Iterator) as AslDefinition | undefined;
    if (inner) found.push(...taskStates(inner));
    for (const branch of (state.Branches as AslDefinition[] | undefined) ?? []) found.push(...taskStates(branch));
  }
  return found;
}
