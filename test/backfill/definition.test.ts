import { synthesizeLocalDefinition, definitionFromTemplate, taskStates, withoutResourceArns, type AslDefinition, type CfnTemplate } from '../../lib/core/backfill/definition';
import { BackfillState } from '../../lib/core/backfill/state-names';
import { synthBackfill } from '../infra/support/synth';

describe('the backfill definition', () => {
  let local: AslDefinition;
  let production: AslDefinition;
  beforeAll(() => {
    // The production stack, synthesized as `cdk synth` does (Lambdas bundled, cdk.json context).
    const synthesized = synthBackfill({}, { cfnValidation: false });
    try {
      production = definitionFromTemplate(synthesized.template.toJSON() as CfnTemplate, synthesized.stack.getLogicalId(synthesized.stack.workflow.stateMachine.node.defaultChild as never));
    } finally {
      synthesized.cleanup();
    }
    local = synthesizeLocalDefinition({
      loadConcurrency: production.States[BackfillState.load].MaxConcurrency as number,
      indexJobMinRows: (production.States[BackfillState.index].Parameters as { Payload: { batchFromRows: number } }).Payload.batchFromRows,
    });
  });

  it('that the local runner executes equals the production stack’s, except for resource ARNs', () => {
    expect(withoutResourceArns(local)).toEqual(withoutResourceArns(production));
    // …and the comparison is not vacuous: ARNs really differ, and any other change is seen.
    expect(JSON.stringify(local)).not.toEqual(JSON.stringify(production));
    const other = synthesizeLocalDefinition({ loadConcurrency: (local.States[BackfillState.load].MaxConcurrency as number) + 1 });
    expect(withoutResourceArns(other)).not.toEqual(withoutResourceArns(production));
  });

  it('submits one Batch array job and waits for it (submitJob.sync), sized and configured by the shard step', () => {
    const embed = local.States[BackfillState.embed];
    expect(embed.Resource).toBe('arn:aws:states:::batch:submitJob.sync');
    const params = embed.Parameters as Record<string, unknown>;
    expect(params.ArrayProperties).toEqual({ 'Size.$': '$.arraySize' });
    const env = (params.ContainerOverrides as { Environment: { Name: string }[] }).Environment.map((e) => e.Name);
    expect(env).toEqual(expect.arrayContaining(['VISTA_SHARDS_URI', 'VISTA_RESULTS_URI', 'VISTA_SHARD_COUNT', 'VISTA_MODEL_URI']));
    // A failed array still goes on to load the completed shards.
    expect(embed.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.embedError', Next: BackfillState.load }]);
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
      [BackfillState.shard, BackfillState.loadShard, BackfillState.recordLoadFailure, BackfillState.index, BackfillState.report].sort(),
    );
    for (const [, state] of lambdaTasks) {
      expect((state.Retry as { ErrorEquals: string[] }[])[0].ErrorEquals).toContain('Lambda.TooManyRequestsException');
    }
  });
});
