/**
 * cdk-nag (v3) acknowledgements, kept next to the resources they are about. cdk-nag v3 reports
 * through CDK's validation framework and fails synthesis on any unacknowledged finding, warnings
 * included; an acknowledgement names one rule (or one finding of it) on one construct subtree.
 *
 * IAM wildcards (AwsSolutions-IAM5) are one finding per wildcard action or resource, e.g.
 * `AwsSolutions-IAM5[Resource::<WorkBucket1234.Arn>/work/runs/*\/results/*]`. Rather than
 * hard-coding logical ids, `allowWildcards` declares which wildcards a construct's policies may
 * hold and why; at synthesis it runs cdk-nag's own rule on each policy and acknowledges the
 * findings that match. Any other wildcard is still reported and fails `cdk synth`.
 */
import { Aspects, CfnResource, Stack, Validations, type IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag rule on a construct and everything under it. */
export function suppress(construct: IConstruct, ruleId: string, reason: string): void {
  Validations.of(construct).acknowledge({ id: ruleId, reason });
}

export type WildcardMatcher =
  /** An IAM action with a wildcard, e.g. `kms:GenerateDataKey*`. */
  | { action: string }
  /** A resource ARN (tokens allowed), e.g. `bucket.arnForObjects('work/runs/*\/shards/*')`. */
  | { resource: string }
  /** A whole finding such as `Resource::*`, by pattern. */
  | { finding: RegExp };

export interface AllowedWildcard {
  readonly match: WildcardMatcher;
  /** Why the wildcard is needed: shown to reviewers in the validation report's acknowledgements. */
  readonly reason: string;
}

/** Allows the listed IAM wildcards in the policies under `scope` (a role, a function, a construct). */
export function allowWildcards(scope: IConstruct, allowed: AllowedWildcard[]): void {
  if (allowed.length > 0) Aspects.of(scope).add(new AcknowledgeWildcards(allowed));
}

const IAM5 = 'AwsSolutions-IAM5';

class AcknowledgeWildcards implements IAspect {
  constructor(private readonly allowed: AllowedWildcard[]) {}

  visit(node: IConstruct): void {
    if (!(node instanceof iam.CfnPolicy || node instanceof iam.CfnRole || node instanceof iam.CfnManagedPolicy)) return;
    this.acknowledge(node);
    // Aspects run before cross-stack references are resolved: a resource of another stack reads
    // `<Logical.Arn>` now and `{"Fn::GetStackOutput": …}` (or an import) in the final template,
    // which is what cdk-nag reports. Construct validations run after that resolution, before
    // cdk-nag's validation, so the findings are matched once more there.
    node.node.addValidation({
      validate: () => {
        this.acknowledge(node);
        return [];
      },
    });
  }

  private acknowledge(node: CfnResource): void {
    const result = rules.iam.IAMNoWildcardPermissions(node);
    if (!Array.isArray(result)) return;
    for (const finding of result) {
      const rule = this.allowed.find((a) => matches(node, a.match, finding));
      if (rule) suppress(node, `${IAM5}[${finding}]`, rule.reason);
    }
  }
}

function matches(node: IConstruct, matcher: WildcardMatcher, finding: string): boolean {
  if ('action' in matcher) return finding === `Action::${matcher.action}`;
  if ('resource' in matcher) return finding === `Resource::${flattenReference(Stack.of(node).resolve(matcher.resource))}`;
  return matcher.finding.test(finding);
}

/**
 * The string cdk-nag shows for a resolved ARN: `<Logical.Attr>` for Fn::GetAtt, `<Logical>` for
 * Ref, Fn::Join concatenated (same format as its findings, so findings can be matched exactly).
 */
export function flattenReference(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [delimiter, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flattenReference).join(delimiter);
    }
    if (o['Fn::Sub'] !== undefined) return flattenReference(o['Fn::Sub']);
    if (Array.isArray(o['Fn::GetAtt'])) {
      const [logicalId, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenReference(logicalId)}.${flattenReference(attribute)}>`;
    }
    if (o['Fn::ImportValue'] !== undefined) return flattenReference(o['Fn::ImportValue']);
    if (o.Ref !== undefined) return `<${flattenReference(o.Ref)}>`;
  }
  return JSON.stringify(value);
}
