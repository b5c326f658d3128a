/**
 * Runs the backfill state machine on one machine: the definition synthesized from the CDK
 * construct (definition.ts), executed by aws-local-stepfunctions, with every Task bound to a
 * local implementation: the Lambda tasks to the same handler modules as in AWS (lambdas/*.ts),
 * the Batch task to local worker processes (local-batch.ts). Locations may be local folders or
 * S3 (AWS_ENDPOINT_URL_S3 for a local S3 server).
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeStaleTempFiles } from '../io/location';
import { isS3Uri } from '../io/s3';
import type { Logger } from '../log';
import { silentLogger } from '../log';
import { makeIndexHandler } from '../../../lambdas/index-table';
import { makeLoadHandler } from '../../../lambdas/load';
import { makeReportHandler } from '../../../lambdas/report';
import { makeShardHandler } from '../../../lambdas/shard';
import { localFunctionArn, localResourceRole, synthesizeLocalDefinition, taskStates, taskTarget, type AslDefinition, type LocalDefinitionOptions } from './definition';
import type { ExecutionInput } from './events';
import { assertRunId, runLayout } from './layout';
import { makeLocalBatch, type ChildCommand, type LocalBatch } from './local-batch';
import type { CompactRunReport } from './report';
import { BackfillFunction, BackfillState, DEFAULT_INDEX_JOB_MIN_ROWS, type BackfillFunctionRole } from './state-names';
import { defaultStore, type BackfillStore } from './store-port';

export interface LocalBackfillOptions {
  /** Exactly one of manifestUri, inventoryUri (an S3 Inventory manifest.json), manifestPrefix. */
  manifestUri?: string;
  inventoryUri?: string;
  manifestPrefix?: string;
  /** Children per Batch array job (wave). @default 10000 */
  maxArraySize?: number;
  /** Waves at once. @default 3 */
  waveConcurrency?: number;
  /** Inventory filters. @default all keys with an image suffix */
  keyPrefix?: string;
  imageSuffixes?: string[];
  /** Partitions of the duplicate pass (manifests). @default from the inputs' size */
  partitions?: number;
  /** Let this run's model replace the store's (drops its tables). @default false */
  newTable?: boolean;
  workUri: string;
  dbUri: string;
  shardSize?: number;
  /** Default: the tiny random-weight model, generated once before the workers start. */
  modelUri?: string;
  /** The execution's name. @default backfill-<time>-<random> */
  runId?: string;
  /** Worker processes at once. @default min(cores, shards) */
  workers?: number;
  /** Attempts per Batch child. @default 1 */
  attempts?: number;
  logger?: Logger;
  /** @default the LanceDB store */
  store?: BackfillStore;
  /** Replaces the worker command (tests). */
  workerCommandFor?: (index: number) => ChildCommand;
  /** Replaces the wait of every Retry (ms); tests use 0. @default as defined */
  retryDelayMs?: number;
  /** Deployment options of the executed definition (e.g. the Batch index job). */
  definition?: LocalDefinitionOptions;
  /** Edits the synthesized definition before it runs (tests: what a wrong wiring does). */
  editDefinition?: (definition: AslDefinition) => AslDefinition;
}

export interface LocalBackfillResult {
  runId: string;
  status: 'SUCCEEDED' | 'FAILED';
  /** The report step's output, when it ran. */
  report?: CompactRunReport;
  reportUri: string;
  /** The execution's error and cause when it failed. */
  error?: string;
  cause?: string;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `backfill-${stamp}-${randomBytes(2).toString('hex')}`;
}

export async function runLocalBackfill(options: LocalBackfillOptions): Promise<LocalBackfillResult> {
  installPromiseWithResolvers();
  // require, not import(): under tsx a dynamic import() takes the ESM resolver, which does not find .ts files.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { StateMachine } = require('aws-local-stepfunctions') as typeof import('aws-local-stepfunctions');
  const logger = options.logger ?? silentLogger;
  const runId = assertRunId(options.runId ?? newRunId());
  const workUri = absolute(options.workUri);
  const layout = runLayout(workUri, runId);
  const modelUri = options.modelUri ? absolute(options.modelUri) : await defaultModel(logger);
  // Resuming a run whose processes were killed: their half-written temporary files go.
  await removeStaleTempFiles(layout.runUri, { recursive: true });

  const batch = makeLocalBatch({
    workers: options.workers ?? os.availableParallelism(),
    attempts: options.attempts,
    logDir: isS3Uri(workUri) ? path.join(os.tmpdir(), 'vista-backfill-logs', runId) : path.join(layout.runUri, 'logs'),
    commandFor: options.workerCommandFor,
    onChild: (e) =>
      logger.log(e.status === 'failed' ? 'warn' : 'info', `batch ${e.job}[${e.index}] ${e.status}`, { attempt: e.attempt, ...(e.exitCode ? { exit_code: e.exitCode } : {}) }),
  });
  // By default the definition production deploys: index builds of big tables handed to a (local) Batch job.
  const synthesized = synthesizeLocalDefinition(options.definition ?? { indexJobMinRows: DEFAULT_INDEX_JOB_MIN_ROWS });
  const definition = localize(options.editDefinition ? options.editDefinition(synthesized) : synthesized);
  let store = options.store;
  const getStore = () => (store ??= defaultStore());
  const handlers = bindTasks(definition, batch, getStore, logger);
  const retryIntervalOverrides =
    options.retryDelayMs === undefined ? undefined : Object.fromEntries(Object.keys(handlers).map((name) => [name, options.retryDelayMs!]));

  const input: ExecutionInput = {
    ...(options.manifestUri ? { manifestUri: absolute(options.manifestUri) } : {}),
    ...(options.inventoryUri ? { inventoryUri: absolute(options.inventoryUri) } : {}),
    ...(options.manifestPrefix ? { manifestPrefix: absolute(options.manifestPrefix) } : {}),
    workUri,
    dbUri: absolute(options.dbUri),
    modelUri,
    ...(options.shardSize ? { shardSize: options.shardSize } : {}),
    ...(options.maxArraySize ? { maxArraySize: options.maxArraySize } : {}),
    ...(options.waveConcurrency ? { waveConcurrency: options.waveConcurrency } : {}),
    ...(options.keyPrefix !== undefined ? { keyPrefix: options.keyPrefix } : {}),
    ...(options.imageSuffixes ? { imageSuffixes: options.imageSuffixes } : {}),
    ...(options.partitions ? { partitions: options.partitions } : {}),
    ...(options.newTable ? { newTable: true } : {}),
  };
  logger.info('backfill started', { run_id: runId, ...input });
  const execution = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } }).run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    context: { Execution: { Name: runId, Id: `arn:aws:states:local:000000000000:execution:vista-backfill:${runId}` } },
  });

  let report: CompactRunReport | undefined;
  let failure: { error: string; cause: string } | undefined;
  const watching = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered' && event.index === undefined) logger.info(`state ${event.state.name}`, { run_id: runId });
      if (event.type === 'StateExited' && event.state.name === BackfillState.report) report = event.state.output as unknown as CompactRunReport;
      if (event.type === 'StateRetried') logger.warn(`retrying ${event.state.name}`, { attempt: event.retry.attempt });
      if (event.type === 'ExecutionFailed') failure = { error: event.Error, cause: String(event.Cause ?? '') };
    }
  })();

  const stopOnSignal = () => batch.stop();
  process.once('SIGINT', stopOnSignal);
  try {
    await execution.result;
  } catch (err) {
    failure ??= { error: (err as Error).name, cause: (err as Error).message };
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    await watching;
  }
  return { runId, status: failure ? 'FAILED' : 'SUCCEEDED', report, reportUri: layout.reportUri, ...(failure ?? {}) };
}

type TaskHandler = (input: unknown) => Promise<unknown>;

/**
 * Binds each Task state to the local implementation of the resource it names (its FunctionName,
 * or its Batch queue and job definition), never by its state name: a state wired to the wrong
 * function runs that function here too. A resource without a local implementation is a bug,
 * caught here. (aws-local-stepfunctions takes the bindings keyed by state name.)
 */
function bindTasks(definition: AslDefinition, batch: LocalBatch, getStore: () => BackfillStore, logger: Logger): Record<string, TaskHandler> {
  const F = BackfillFunction;
  const lambdas: Record<BackfillFunctionRole, TaskHandler> = {
    [F.shard]: lambdaInvoke(F.shard, makeShardHandler(logger)),
    [F.load]: lambdaInvoke(F.load, makeLoadHandler(getStore)),
    [F.index]: lambdaInvoke(F.index, makeIndexHandler(getStore)),
    [F.report]: lambdaInvoke(F.report, makeReportHandler({ listFailedChildren: (id) => batch.listFailedChildren(id) })),
  };
  const bindings: Record<string, TaskHandler> = {};
  const targets: Record<string, string> = {};
  for (const [name, state] of taskStates(definition)) {
    const target = taskTarget(name, state, localResourceRole);
    if (targets[name] !== undefined && targets[name] !== target) throw new Error(`two task states named ${name} run different resources`);
    targets[name] = target;
    const [kind, role] = target.split(':') as ['lambda' | 'batch', string];
    const handler = kind === 'batch' ? (parameters: unknown) => batch.submitJobSync(parameters) : lambdas[role as BackfillFunctionRole];
    if (!handler) throw new Error(`task state ${name}: no local handler for ${target}`);
    bindings[name] = handler;
  }
  return bindings;
}

/**
 * The `lambda:invoke` service integration around a handler: it receives {FunctionName, Payload}
 * and answers {StatusCode, Payload}; a handler error fails the task with the error's name and a
 * JSON cause {errorType, errorMessage}, as Lambda reports it.
 */
function lambdaInvoke(role: BackfillFunctionRole, handler: (event: unknown) => Promise<unknown>): TaskHandler {
  return async (parameters) => {
    const { FunctionName, Payload } = parameters as { FunctionName: unknown; Payload: unknown };
    if (FunctionName !== localFunctionArn(role)) throw new Error(`the local ${role} function was invoked as ${String(FunctionName)}`);
    try {
      return { StatusCode: 200, ExecutedVersion: '$LATEST', Payload: await handler(Payload) };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const name = e.name && e.name !== 'Error' ? e.name : 'Error';
      throw Object.assign(new Error(JSON.stringify({ errorType: name, errorMessage: e.message })), { name });
    }
  };
}

/** The largest timeout Node timers accept (~24.8 days); AWS's own default (99999999 s) would overflow them. */
const MAX_LOCAL_TIMEOUT_SECONDS = 2_147_483;

/**
 * aws-local-stepfunctions gives a Task without TimeoutSeconds 60 s; Step Functions gives it
 * no practical limit, and the Batch task has none (its limit is the Batch job's). Restores
 * AWS's behaviour, changing nothing else.
 */
function localize(definition: AslDefinition): AslDefinition {
  for (const [, state] of taskStates(definition)) {
    if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) state.TimeoutSeconds = MAX_LOCAL_TIMEOUT_SECONDS;
  }
  return definition;
}

async function defaultModel(logger: Logger): Promise<string> {
  // Generated here once, not by each worker process at the same time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ensureDefaultModel } = require('../pipeline/worker') as typeof import('../pipeline/worker');
  return ensureDefaultModel(logger);
}

function absolute(uri: string): string {
  return isS3Uri(uri) ? uri : path.resolve(uri);
}

/** aws-local-stepfunctions 3 calls Promise.withResolvers (Node 22+); Node 20 lacks it. */
function installPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  if (typeof P.withResolvers === 'function') return;
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
