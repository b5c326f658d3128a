import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  definitionFromTemplate,
  synthesizeLocalDefinition,
  taskStates,
  withoutResourceArns,
  type AslDefinition,
  type CfnTemplate,
} from '../../lib/core/backfill/definition';
import { BackfillState } from '../../lib/core/backfill/state-names';
import { BackfillWorkflow } from '../../lib/infra/backfill/workflow';

/**
 * A stack shaped like production: real Lambda functions and Batch ARNs that are deploy-time
 * tokens. (Replace with the infra stack's own construct tree once it composes BackfillWorkflow.)
 */
function productionLikeTemplate(loadConcurrency?: number): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'VistaBackfillProd');
  const fn = (id: string) =>
    new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})') });
  new BackfillWorkflow(stack, 'Backfill', {
    shardFunction: fn('Shard'),
    loadFunction: fn('Load'),
    indexFunction: fn('Index'),
    reportFunction: fn('Report'),
    jobQueueArn: new CfnParameter(stack, 'JobQueueArn').valueAsString,
    jobDefinitionArn: new CfnParameter(stack, 'JobDefinitionArn').valueAsString,
    ...(loadConcurrency ? { loadConcurrency } : {}),
  });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

describe('the backfill definition', () => {
  let local: AslDefinition;
  beforeAll(() => {
    local = synthesizeLocalDefinition();
  });

  it('that the local runner executes equals the production stack’s, except for resource ARNs', () => {
    const production = definitionFromTemplate(productionLikeTemplate());
    expect(withoutResourceArns(local)).toEqual(withoutResourceArns(production));
    // …and the comparison is not vacuous: ARNs really differ, and other changes are seen.
    expect(JSON.stringify(local)).not.toEqual(JSON.stringify(production));
    expect(withoutResourceArns(definitionFromTemplate(productionLikeTemplate(3)))).not.toEqual(withoutResourceArns(local));
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

  it('loads shards with bounded concurrency and ends in a Fail state whose cause comes from the report', () => {
    const load = local.States[BackfillState.load];
    expect(load).toMatchObject({ Type: 'Map', ItemsPath: '$.shardIndexes', MaxConcurrency: 8, ResultPath: null });
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
