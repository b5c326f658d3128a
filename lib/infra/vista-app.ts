/**
 * The stacks of the Vista app, as `bin/app.ts` and the infra tests build them:
 *
 *   <stackName>         (VistaBackfill) storage, network, Batch GPU compute, the backfill workflow
 *   <servingStackName>  (VistaServing)  the real-time path, reading the backfill stack's buckets
 *
 * The serving stack depends on the backfill stack (cross-stack references to its buckets and
 * alarm topic); `cdk deploy VistaBackfill` deploys the backfill alone.
 */
import type { App } from 'aws-cdk-lib';
import { BackfillStack } from './backfill/backfill-stack';
import type { InfraConfig } from './config';
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
  });
  serving.addStackDependency(backfill, 'reads the backfill stack\'s buckets');
  return { backfill, serving };
}
