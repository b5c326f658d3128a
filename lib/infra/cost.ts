/**
 * An optional monthly AWS Budget over Vista's resources (those tagged Project=Vista, see
 * vista-app.ts), emailing at 80 % of actual and 100 % of forecast spend. Budgets are global
 * (us-east-1 billing data); the resource can live in any region's stack.
 */
import * as budgets from 'aws-cdk-lib/aws-budgets';
import { Construct } from 'constructs';
import type { InfraConfig } from './config';

/** On every resource of both stacks (vista-app.ts); what the budget counts. */
export const PROJECT_TAG = { key: 'Project', value: 'Vista' } as const;

export interface VistaBudgetProps {
  readonly config: Pick<InfraConfig, 'budgetMonthlyUsd' | 'alarmEmail'>;
  /** Name shown in the Billing console. */
  readonly budgetName: string;
  /** `Key$Value` of the cost allocation tag to count (must be activated in the Billing console). */
  readonly tag: { key: string; value: string };
}

export class VistaBudget extends Construct {
  readonly budget: budgets.CfnBudget;

  constructor(scope: Construct, id: string, props: VistaBudgetProps) {
    super(scope, id);
    const { config } = props;
    const subscribers = config.alarmEmail ? [{ subscriptionType: 'EMAIL', address: config.alarmEmail }] : [];
    const notify = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number) => ({
      notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
      subscribers,
    });
    this.budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetName: props.budgetName,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: config.budgetMonthlyUsd, unit: 'USD' },
        costFilters: { TagKeyValue: [`user:${props.tag.key}$${props.tag.value}`] },
      },
      notificationsWithSubscribers: subscribers.length > 0 ? [notify('ACTUAL', 80), notify('FORECASTED', 100)] : undefined,
    });
  }
}
