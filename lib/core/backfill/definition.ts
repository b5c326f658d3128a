/**
 * The backfill's Amazon States Language definition, taken from the CDK construct itself: a
 * throwaway stack (no Docker, no credentials) holds `BackfillWorkflow` with placeholder
 * functions and Batch ARNs, is synthesized in-process, and its DefinitionString is resolved to
 * plain JSON. The local runner executes exactly this; a test proves it equals the production
 * stack's definition once each resource ARN is replaced by the role of what it names (the shard
 * function, the worker job definition, …), so a state wired to another function is a difference.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BackfillBatchJob, BackfillFunction, type BackfillBatchJobRole, type BackfillFunctionRole } from './state-names';

export type AslDefinition = { StartAt: string; States: Record<string, AslState>; [key: string]: unknown };
export type AslState = { Type: string; Resource?: string; [key: string]: unknown };

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';
/** The local stand-ins of the deployed resources: one ARN per role, so that a swapped wiring stays visible. */
export const localFunctionArn = (role: BackfillFunctionRole) => `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:vista-local-${role}`;
export const localJobQueueArn = (role: BackfillBatchJobRole) => `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job-queue/vista-local-${role}`;
export const localJobDefinitionArn = (role: BackfillBatchJobRole) =>
  `arn:aws:batch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job-definition/vista-local-${role}:1`;

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
  const fn = (role: BackfillFunctionRole) => lambda.Function.fromFunctionArn(stack, `${role}Function`, localFunctionArn(role));
  const F = BackfillFunction;
  const J = BackfillBatchJob;
  new BackfillWorkflow(stack, 'Backfill', {
    shardFunction: fn(F.shard),
    loadFunction: fn(F.load),
    indexFunction: fn(F.index),
    reportFunction: fn(F.report),
    jobQueueArn: localJobQueueArn(J.worker),
    jobDefinitionArn: localJobDefinitionArn(J.worker),
    loadConcurrency: options.loadConcurrency,
    jobAttempts: options.jobAttempts,
    ...(options.indexJobMinRows !== undefined
      ? { indexJob: { jobQueueArn: localJobQueueArn(J.index), jobDefinitionArn: localJobDefinitionArn(J.index), minRows: options.indexJobMinRows } }
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

/** Parameters of Task states that name a deployed resource. */
const RESOURCE_FIELDS = { FunctionName: 'lambda', JobQueue: 'batch-queue', JobDefinition: 'batch-job-definition' } as const;
type ResourceField = keyof typeof RESOURCE_FIELDS;

/** The role of the resource an ARN names, e.g. `lambda:shard`, `batch-queue:worker`; undefined when unknown. */
export type ResourceRoleOf = (arn: string) => string | undefined;

/** Roles of the local stand-in ARNs (`vista-local-<role>`). */
export const localResourceRole: ResourceRoleOf = (arn) => {
  for (const role of Object.values(BackfillFunction)) if (arn === localFunctionArn(role)) return `lambda:${role}`;
  for (const role of Object.values(BackfillBatchJob)) {
    if (arn === localJobQueueArn(role)) return `batch-queue:${role}`;
    if (arn === localJobDefinitionArn(role)) return `batch-job-definition:${role}`;
  }
  return undefined;
};

/**
 * The definition with each value that names a deployed resource replaced by `<role>` (what
 * "same definition" means between stacks whose ARNs differ): the wiring stays in the comparison.
 * An ARN of no known role becomes `<unknown …>`, which equals nothing else.
 */
export function withResourceRoles(definition: unknown, roleOf: ResourceRoleOf): unknown {
  if (Array.isArray(definition)) return definition.map((d) => withResourceRoles(d, roleOf));
  if (definition === null || typeof definition !== 'object') return definition;
  return Object.fromEntries(
    Object.entries(definition as Record<string, unknown>).map(([k, v]) => [
      k,
      k in RESOURCE_FIELDS && typeof v === 'string' ? `<${roleOf(v) ?? `unknown ${RESOURCE_FIELDS[k as ResourceField]} ${v}`}>` : withResourceRoles(v, roleOf),
    ]),
  );
}

/**
 * What a Task state runs, from its own resource: `lambda:<role>` for a Lambda invocation,
 * `batch:<role>` for a Batch job whose queue and job definition have that one role.
 * Throws when the state names anything else.
 */
export function taskTarget(name: string, state: AslState, roleOf: ResourceRoleOf): string {
  const params = (state.Parameters ?? {}) as Record<string, unknown>;
  const role = (field: ResourceField) => {
    const value = params[field];
    const found = typeof value === 'string' ? roleOf(value) : undefined;
    const prefix = `${RESOURCE_FIELDS[field]}:`;
    if (!found?.startsWith(prefix)) throw new Error(`task state ${name}: ${field} ${JSON.stringify(value)} names no known ${RESOURCE_FIELDS[field]}`);
    return found.slice(prefix.length);
  };
  if (state.Resource === LAMBDA_INVOKE) return `lambda:${role('FunctionName')}`;
  if (state.Resource === BATCH_SUBMIT_JOB_SYNC) {
    const queue = role('JobQueue');
    const jobDefinition = role('JobDefinition');
    if (queue !== jobDefinition) throw new Error(`task state ${name}: job definition of the ${jobDefinition} job on the queue of the ${queue} job`);
    return `batch:${queue}`;
  }
  throw new Error(`task state ${name}: resource ${state.Resource} has no local implementation`);
}

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const BATCH_SUBMIT_JOB_SYNC = 'arn:aws:states:::batch:submitJob.sync';

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
