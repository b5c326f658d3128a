/**
 * Least privilege, read from the synthesized policies: every role reaches only the buckets and
 * key prefixes of its own step, and `*` resources only carry actions AWS cannot scope.
 */
import { flat, logicalId, statementsOfRole, synthBackfill, type Statement, type Synthesized } from './support/synth';

let synth: Synthesized;
beforeAll(() => {
  synth = synthBackfill({}, { cfnValidation: false });
});
afterAll(() => synth?.cleanup());

const bucket = (name: string) => `<${logicalId(synth.template, 'AWS::S3::Bucket', `Storage${name}`)}.Arn>`;
const roleStatements = (prefix: string) => statementsOfRole(synth.template, logicalId(synth.template, 'AWS::IAM::Role', prefix));

/** Resources on which `action` is allowed. */
function allowed(statements: Statement[], action: string): string[] {
  return statements.filter((s) => s.effect === 'Allow' && s.actions.includes(action)).flatMap((s) => s.resources).sort();
}

function everyResource(statements: Statement[]): string[] {
  return statements.flatMap((s) => s.resources);
}

describe('worker job role', () => {
  const statements = () => roleStatements('ComputeJobRole');

  it('writes only its results and the label-bank cache', () => {
    expect(allowed(statements(), 's3:PutObject')).toEqual([`${bucket('Artifacts')}/label-banks/*`, `${bucket('Work')}/work/runs/*/results/*`].sort());
  });

  it('reads source images, its shard, its results, the model, taxonomies and label banks', () => {
    expect(allowed(statements(), 's3:GetObject')).toEqual(
      [
        `${bucket('Source')}/*`,
        `${bucket('Work')}/work/runs/*/shards/*`,
        `${bucket('Work')}/work/runs/*/results/*`,
        `${bucket('Artifacts')}/models/*`,
        `${bucket('Artifacts')}/taxonomies/*`,
        `${bucket('Artifacts')}/label-banks/*`,
      ].sort(),
    );
  });

  it('never deletes, and never touches the vector store', () => {
    expect(allowed(statements(), 's3:DeleteObject')).toEqual([]);
    expect(everyResource(statements()).some((r) => r.startsWith(bucket('VectorStore')))).toBe(false);
  });

  it('has no action wildcard', () => {
    expect(statements().flatMap((s) => s.actions).filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('functions', () => {
  it('the load function cannot write (or even read) the source bucket', () => {
    const statements = roleStatements('FunctionsLoadRole');
    expect(everyResource(statements).some((r) => r.startsWith(bucket('Source')))).toBe(false);
    expect(allowed(statements, 's3:PutObject')).toEqual([`${bucket('VectorStore')}/db/*`, `${bucket('Work')}/work/runs/*/loads/*`].sort());
  });

  it('no function role references the source bucket', () => {
    for (const fn of ['Shard', 'Load', 'Index', 'Report']) {
      expect(everyResource(roleStatements(`Functions${fn}Role`)).filter((r) => r.includes(bucket('Source')))).toEqual([]);
    }
  });

  it('the shard function reads manifests and writes shards only', () => {
    const statements = roleStatements('FunctionsShardRole');
    expect(allowed(statements, 's3:GetObject')).toEqual([`${bucket('Work')}/manifests/*`, `${bucket('Work')}/work/runs/*/shards/*`].sort());
    expect(allowed(statements, 's3:PutObject')).toEqual([`${bucket('Work')}/work/runs/*/shards/*`]);
    expect(allowed(statements, 's3:DeleteObject')).toEqual([`${bucket('Work')}/work/runs/*/shards/*`]);
  });

  it('the report function writes report.json only', () => {
    expect(allowed(roleStatements('FunctionsReportRole'), 's3:PutObject')).toEqual([`${bucket('Work')}/work/runs/*/report.json`]);
  });

  it('only the load and index functions reach the LanceDB store, under db/', () => {
    const reaching = ['Shard', 'Load', 'Index', 'Report'].filter((fn) =>
      everyResource(roleStatements(`Functions${fn}Role`)).some((r) => r.startsWith(bucket('VectorStore'))),
    );
    expect(reaching).toEqual(['Load', 'Index']);
    expect(allowed(roleStatements('FunctionsIndexRole'), 's3:DeleteObject')).toEqual([`${bucket('VectorStore')}/db/*`]);
  });

  it('each writes only its own log group', () => {
    for (const fn of ['Shard', 'Load', 'Index', 'Report']) {
      expect(allowed(roleStatements(`Functions${fn}Role`), 'logs:PutLogEvents')).toEqual([
        `<${logicalId(synth.template, 'AWS::Logs::LogGroup', `Functions${fn}Logs`)}.Arn>`,
      ]);
    }
  });
});

it('grants `*` resources only for actions without resource-level permissions', () => {
  const unscopable = new Set([
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
    'batch:ListJobs',
    'ecr:GetAuthorizationToken',
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
  ]);
  const policies = Object.values(synth.template.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: unknown[] } } }[];
  const offending = policies
    .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
    .filter((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map(flat).includes('*'))
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .filter((a) => !unscopable.has(a));
  expect(offending).toEqual([]);
});

it('uses no AWS managed policy except the ECS container-instance policy', () => {
  const roles = Object.values(synth.template.findResources('AWS::IAM::Role')) as { Properties: { ManagedPolicyArns?: unknown[] } }[];
  expect(roles.flatMap((r) => (r.Properties.ManagedPolicyArns ?? []).map(flat))).toEqual([
    'arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
  ]);
});
