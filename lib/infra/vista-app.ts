/**
 * The stacks of the Vista app, as `bin/app.ts` and the infra tests build them:
 *
 *   <stackName>         (VistaBackfill) storage, network, Batch GPU compute, the backfill workflow
 *   <servingStackName>  (VistaServing)  the real-time path, reading the backfill stack's buckets
 *
 * The serving stack depends on the backfill stack (cross-stack references to its buckets and
 * alarm topic); `cdk deploy VistaBackfill` deploys the backfill alone.
 */
import { type App, type Stack, Tags } from 'aws-cdk-lib';
import { BackfillStack } from './backfill/backfill-stack';
import type { InfraConfig } from './config';
import { PROJECT_TAG } from './cost';
import { ServingStack } from './serving/serving-stack';

export interface VistaStacks {
  readonly backfill: BackfillStack;
  readonly serving: ServingStack;
}

export function addVistaStacks(app: App, config: InfraConfig): VistaStacks {
  const backfill = new BackfillStack(app, config.stackName, { config });
  const serving = new ServingStack(app, config.servingStackName, {
    config,
    storage: backfill.storage,
    alarmTopic: backfill.observability.alarmTopic,
    network: backfill.network,
  });
  serving.addStackDependency(backfill, 'reads the backfill stack\'s buckets');
  for (const stack of [backfill, serving]) tagForCost(stack, config);
  return { backfill, serving };
}

/** Cost allocation tags on every taggable resource of the stack. */
function tagForCost(stack: Stack, config: InfraConfig): void {
  Tags.of(stack).add(PROJECT_TAG.key, PROJECT_TAG.value);
  Tags.of(stack).add('VistaStack', stack.stackName);
  for (const tag of config.costTags) {
    const at = tag.indexOf('=');
    Tags.of(stack).add(tag.slice(0, at), tag.slice(at + 1));
  }
}
