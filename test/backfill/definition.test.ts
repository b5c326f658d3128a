import {
  synthesizeLocalDefinition,
  definitionFromTemplate,
  localResourceRole,
  taskStates,
  taskTarget,
  withResourceRoles,
  type AslDefinition,
  type AslState,
  type CfnTemplate,
  type ResourceRoleOf,
} from '../../lib/core/backfill/definition';
import { BackfillState, TASK_TARGETS } from '../../lib/core/backfill/state-names';
import type { BackfillStack } from '../../lib/infra/backfill/backfill-stack';
import { synthBackfill } from '../infra/support/synth';

/** Roles of the production stack's resources, from the logical ids their ARNs resolve to (`<Id.Arn>`, `<Id>`). */
function productionRoles(stack: BackfillStack): ResourceRoleOf {
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  const roles = new Map<string, string>();
  for (const [role, fn] of Object.entries(stack.functions.all)) roles.set(`<${id(fn)}.Arn>`, `lambda:${role}`);
  const jobs = { worker: stack.compute, 'index-job': stack.indexJob };
  for (const [role, job] of Object.entries(jobs)) {
    for (const [kind, resource] of [['batch-queue', job.jobQueue], ['batch-job-definition', job.jobDefinition]] as const) {
      const logicalId = id(resource as never);
      roles.set(`<${logicalId}>`, `${kind}:${role}`).set(`<${logicalId}.JobQueueArn>`, `${kind}:${role}`);
    }
  }
  return (arn) => roles.get(arn);
}

/** A copy of the definition with `edit` applied to the Task state called `name` (Map item processors included). */
function editTask(definition: AslDefinition, name: string, edit: (state: AslState) => void): AslDefinition {
  const copy = JSON.parse(JSON.stringify(definition)) as AslDefinition;
  const found = taskStates(copy).find(([n]) => n === name);
  if (!found) throw new Error(`no task state ${name}`);
  edit(found[1]);
  return copy;
}

const RESOURCE_PARAMS = ['FunctionName', 'JobQueue', 'JobDefinition'];
const resourceOf = (state: AslState) =>
  Object.fromEntries(RESOURCE_PARAMS.filter((k) => k in (state.Parameters as object)).map((k) => [k, (state.Parameters as Record<string, unknown>)[k]]));

describe('the backfill definition', () => {
  let local: AslDefinition;
  let production: AslDefinition;
  let roleOf: ResourceRoleOf;
  beforeAll(() => {
    // The production stack, synthesized as `cdk synth` does (Lambdas bundled, cdk.json context).
    const synthesized = synthBackfill({}, { cfnValidation: false });
    try {
      production = definitionFromTemplate(synthesized.template.toJSON() as CfnTemplate, synthesized.stack.getLogicalId(synthesized.stack.workflow.stateMachine.node.defaultChild as never));
      roleOf = productionRoles(synthesized.stack);
    } finally {
      synthesized.cleanup();
    }
    local = synthesizeLocalDefinition({
      loadConcurrency: production.States[BackfillState.load].MaxConcurrency as number,
      indexJobMinRows: (production.States[BackfillState.index].Parameters as { Payload: { batchFromRows: number } }).Payload.batchFromRows,
    });
  });

  it('that the local runner executes equals the production stack’s, resource ARNs replaced by their roles', () => {
    expect(withResourceRoles(local, localResourceRole)).toEqual(withResourceRoles(production, roleOf));
    // …and the comparison is not vacuous: ARNs really differ, and any other change is seen.
    expect(JSON.stringify(local)).not.toEqual(JSON.stringify(production));
    const other = synthesizeLocalDefinition({ loadConcurrency: (local.States[BackfillState.load].MaxConcurrency as number) + 1 });
    expect(withResourceRoles(other, localResourceRole)).not.toEqual(withResourceRoles(production, roleOf));
  });

  it('runs in every Task state the function or job meant for it, in production and locally', () => {
    const wiring = (definition: AslDefinition, of: ResourceRoleOf) => Object.fromEntries(taskStates(definition).map(([name, state]) => [name, taskTarget(name, state, of)]));
    expect(wiring(production, roleOf)).toEqual(TASK_TARGETS);
    expect(wiring(local, localResourceRole)).toEqual(TASK_TARGETS);
  });

  it('sees any two Task states’ resources swapped, and any one pointed at another function or job', () => {
    const normalized = withResourceRoles(production, roleOf);
    const tasks = taskStates(production);
    const differs = (edited: AslDefinition) => expect(withResourceRoles(edited, roleOf)).not.toEqual(normalized);
    let swaps = 0;
    for (const [a, stateA] of tasks) {
      for (const [b, stateB] of tasks) {
        if (a >= b || TASK_TARGETS[a] === TASK_TARGETS[b]) continue;
        const swapped = editTask(editTask(production, a, (s) => Object.assign(s.Parameters as object, resourceOf(stateB))), b, (s) =>
          Object.assign(s.Parameters as object, resourceOf(stateA)),
        );
        differs(swapped);
        swaps++;
      }
    }
    expect(swaps).toBeGreaterThanOrEqual(15);
    // Each Lambda state pointed at each other function, and each Batch state at the other job.
    const functionArns = [...new Set(tasks.flatMap(([, s]) => (typeof resourceOf(s).FunctionName === 'string' ? [resourceOf(s).FunctionName] : [])))];
    expect(functionArns).toHaveLength(4);
    for (const [name, state] of tasks) {
      const current = resourceOf(state);
      if (current.FunctionName) {
        for (const arn of functionArns.filter((f) => f !== current.FunctionName)) differs(editTask(production, name, (s) => ((s.Parameters as Record<string, unknown>).FunctionName = arn)));
      }
      for (const field of ['JobQueue', 'JobDefinition']) {
        const other = tasks.map(([, s]) => resourceOf(s)[field]).find((v) => v !== undefined && v !== current[field]);
        if (current[field]) differs(editTask(production, name, (s) => ((s.Parameters as Record<string, unknown>)[field] = other)));
      }
    }
  });

  it('plans in Distributed Maps over the input files and the hash partitions, each iteration returning only its index', () => {
    expect(Object.keys(local.States).slice(0, 4)).toEqual([BackfillState.shard, BackfillState.splitInputs, BackfillState.dedupPartitions, BackfillState.finishPlan]);
    for (const [map, items, task] of [
      [BackfillState.splitInputs, '$.inputIndexes', BackfillState.splitInput],
      [BackfillState.dedupPartitions, '$.partitionIndexes', BackfillState.dedupPartition],
    ]) {
      expect(local.States[map]).toMatchObject({ Type: 'Map', ItemsPath: items, ResultPath: null, MaxConcurrency: 100, ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } } });
      const inner = (local.States[map] as unknown as { ItemProcessor: AslDefinition }).ItemProcessor.States[task];
      expect(inner.OutputPath).toBe('$.Payload.index');
    }
    expect(local.States[BackfillState.finishPlan].Parameters).toMatchObject({ Payload: { step: 'finish', 'planning.$': '$' } });
  });

  it('embeds in waves: one Batch array job (submitJob.sync) per wave, waveConcurrency at a time, each failure caught on its own', () => {
    const embed = local.States[BackfillState.embed];
    expect(embed).toMatchObject({ Type: 'Map', ItemsPath: '$.waves', MaxConcurrencyPath: '$.waveConcurrency', ResultPath: '$.embed' });
    const wave = (embed as unknown as { ItemProcessor: AslDefinition }).ItemProcessor.States[BackfillState.embedWave];
    expect(wave.Resource).toBe('arn:aws:states:::batch:submitJob.sync');
    expect(wave.TimeoutSeconds).toBe(3 * 24 * 3600);
    const params = wave.Parameters as Record<string, unknown>;
    // The wave's timeout is the state's, never the children's attempt timeout (the job definition's).
    expect(params.Timeout).toBeUndefined();
    expect(params.ArrayProperties).toEqual({ 'Size.$': '$.arraySize' });
    const env = (params.ContainerOverrides as { Environment: { Name: string }[] }).Environment.map((e) => e.Name);
    expect(env).toEqual(expect.arrayContaining(['VISTA_SHARDS_URI', 'VISTA_RESULTS_URI', 'VISTA_SHARD_COUNT', 'VISTA_SHARD_OFFSET', 'VISTA_MODEL_URI']));
    // A failed wave is caught inside its iteration (the other waves go on), then the completed shards load.
    expect(wave.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: BackfillState.embedWaveFailed }]);
    expect(embed.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.embedError', Next: BackfillState.load }]);
    expect(embed.Next).toBe(BackfillState.load);
  });

  it('never indexes (compacts) after a failed load Map, whose loads may still be running', () => {
    expect(local.States[BackfillState.load].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.loadError', Next: BackfillState.report }]);
  });

  it('does not retry a load that failed for good (Vista.<CODE> names), and retries other failures', () => {
    const loadShard = (local.States[BackfillState.load] as unknown as { ItemProcessor: AslDefinition }).ItemProcessor.States[BackfillState.loadShard];
    const retry = loadShard.Retry as { ErrorEquals: string[]; MaxAttempts?: number }[];
    const permanent = retry.findIndex((r) => r.ErrorEquals.includes('Vista.OUTPUT_INVALID'));
    const generic = retry.findIndex((r) => r.ErrorEquals.includes('States.TaskFailed'));
    expect(permanent).toBeGreaterThanOrEqual(0);
    expect(retry[permanent]).toMatchObject({ MaxAttempts: 0 });
    expect(generic).toBeGreaterThan(permanent);
  });

  it('routes tables too big for the index Lambda to a Batch index job when configured', () => {
    const withJob = synthesizeLocalDefinition({ indexJobMinRows: 1_000_000 });
    expect((withJob.States[BackfillState.index].Parameters as { Payload: unknown }).Payload).toEqual({ 'dbUri.$': '$.dbUri', batchFromRows: 1_000_000 });
    expect(withJob.States[BackfillState.index].Next).toBe(BackfillState.indexHandedOff);
    expect(withJob.States[BackfillState.indexHandedOff]).toMatchObject({ Default: BackfillState.report, Choices: [{ Next: BackfillState.indexOnBatch }] });
    expect(withJob.States[BackfillState.indexOnBatch]).toMatchObject({
      Resource: 'arn:aws:states:::batch:submitJob.sync',
      Parameters: { ContainerOverrides: { Command: ['node', 'bin/vista.js', 'backfill', 'index', '--from-env'] } },
      Next: BackfillState.report,
    });
    expect(synthesizeLocalDefinition({}).States[BackfillState.index].Next).toBe(BackfillState.report);
  });

  it('loads shards in a distributed map and ends in a Fail state whose cause comes from the report', () => {
    const load = local.States[BackfillState.load];
    expect(load).toMatchObject({ Type: 'Map', ItemsPath: '$.shardIndexes', ResultPath: null, ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } } });
    expect(synthesizeLocalDefinition().States[BackfillState.load].MaxConcurrency).toBe(8);
    expect(local.States[BackfillState.failed]).toEqual({ Type: 'Fail', Error: 'Vista.BackfillIncomplete', CausePath: '$.cause' });
    const lambdaTasks = taskStates(local).filter(([, s]) => s.Resource === 'arn:aws:states:::lambda:invoke');
    expect(lambdaTasks.map(([name]) => name).sort()).toEqual(
      [
        BackfillState.shard,
        BackfillState.splitInput,
        BackfillState.dedupPartition,
        BackfillState.finishPlan,
        BackfillState.loadShard,
        BackfillState.recordLoadFailure,
        BackfillState.index,
        BackfillState.report,
      ].sort(),
    );
    for (const [, state] of lambdaTasks) {
      expect((state.Retry as { ErrorEquals: string[] }[])[0].ErrorEquals).toContain('Lambda.TooManyRequestsException');
    }
  });
});
