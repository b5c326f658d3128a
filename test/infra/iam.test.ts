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
const batchArn = (resource: string) => `arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:${resource}`;
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

  it('deletes only in its results (a part that now has no rows), and never touches the vector store', () => {
    expect(allowed(statements(), 's3:DeleteObject')).toEqual([`${bucket('Work')}/work/runs/*/results/*`]);
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

  it('the shard function reads manifests, and reads and writes its planning files and the shards only', () => {
    const statements = roleStatements('FunctionsShardRole');
    expect(allowed(statements, 's3:GetObject')).toEqual(
      [`${bucket('Work')}/manifests/*`, `${bucket('Work')}/work/runs/*/plan/*`, `${bucket('Work')}/work/runs/*/shards/*`].sort(),
    );
    expect(allowed(statements, 's3:PutObject')).toEqual([`${bucket('Work')}/work/runs/*/plan/*`, `${bucket('Work')}/work/runs/*/shards/*`].sort());
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

describe('state machine role', () => {
  const statements = () => roleStatements('WorkflowStateMachineRole');

  it('can terminate the Batch jobs it runs, so stopping or timing out an execution cancels them (submitJob.sync)', () => {
    expect(allowed(statements(), 'batch:TerminateJob')).toEqual([batchArn('job/*')]);
    // DescribeJobs has no resource-level permissions.
    expect(allowed(statements(), 'batch:DescribeJobs')).toEqual(['*']);
  });

  it('submits only the revisions of the worker and index job definitions, to the two Vista queues', () => {
    const queue = (prefix: string) => `<${logicalId(synth.template, 'AWS::Batch::JobQueue', prefix)}.JobQueueArn>`;
    expect(allowed(statements(), 'batch:SubmitJob')).toEqual(
      [batchArn('job-definition/VistaBackfill-worker:*'), batchArn('job-definition/VistaBackfill-index:*'), queue('ComputeQueue'), queue('IndexJobQueue')].sort(),
    );
    expect(everyResource(statements())).not.toContain(batchArn('job-definition/*'));
    // …and those are the names of the job definitions the stack deploys.
    const definitions = synth.template.findResources('AWS::Batch::JobDefinition') as Record<string, { Properties: { JobDefinitionName?: string } }>;
    expect(Object.values(definitions).map((d) => d.Properties.JobDefinitionName).sort()).toEqual(['VistaBackfill-index', 'VistaBackfill-retag', 'VistaBackfill-worker']);
  });
});

describe('Batch index job role', () => {
  const statements = () => roleStatements('IndexJobJobRole');

  it('reads, writes and deletes the LanceDB prefix db/* of the vector store, like the index function, and nothing else', () => {
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']) expect(allowed(statements(), action)).toEqual([`${bucket('VectorStore')}/db/*`]);
    expect(allowed(statements(), 's3:ListBucket')).toEqual([bucket('VectorStore')]);
    expect([...new Set(everyResource(statements()).map((r) => r.split('/')[0]))]).toEqual([bucket('VectorStore')]);
  });
});

describe('s3:ListBucket', () => {
  /** The s3:prefix values a role may list in a bucket. */
  const listable = (rolePrefix: string, bucketName: string): string[] =>
    roleStatements(rolePrefix)
      .filter((s) => s.effect === 'Allow' && s.actions.includes('s3:ListBucket') && s.resources.includes(bucket(bucketName)))
      .flatMap((s) => (s.condition?.StringLike?.['s3:prefix'] as string[] | undefined) ?? ['<unconditional>'])
      .sort();

  it('is never granted on a whole bucket: every grant carries an s3:prefix condition', () => {
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }[];
    const grants = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s) => ([] as unknown[]).concat(s.Action).includes('s3:ListBucket'));
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) {
      expect(grant.Condition).toEqual({ StringLike: { 's3:prefix': expect.any(Array) } });
      expect([].concat(grant.Action as never)).toEqual(['s3:ListBucket']);
    }
  });

  it('limits the workers to their own prefixes, as a folder (prefix) and everything under it (prefix/*)', () => {
    expect(listable('ComputeJobRole', 'Work')).toEqual(['work/runs/*/results', 'work/runs/*/results/*', 'work/runs/*/shards', 'work/runs/*/shards/*']);
    expect(listable('ComputeJobRole', 'Artifacts')).toEqual(['label-banks', 'label-banks/*', 'models', 'models/*', 'taxonomies', 'taxonomies/*']);
    // sourcePrefix "" = the whole source bucket is readable, so any prefix may be listed (a missing image is a 404).
    expect(listable('ComputeJobRole', 'Source')).toEqual(['*']);
  });

  it('limits LanceDB\'s roles to db and db/* (table listings, _versions/, HEAD of missing files)', () => {
    for (const role of ['FunctionsLoadRole', 'FunctionsIndexRole', 'IndexJobJobRole']) expect(listable(role, 'VectorStore')).toEqual(['db', 'db/*']);
  });

  it('limits the functions to the run files of their step', () => {
    expect(listable('FunctionsShardRole', 'Work')).toEqual(['manifests', 'manifests/*', 'work/runs/*/plan', 'work/runs/*/plan/*', 'work/runs/*/shards', 'work/runs/*/shards/*']);
    expect(listable('FunctionsLoadRole', 'Work')).toEqual(['work/runs/*/loads', 'work/runs/*/loads/*', 'work/runs/*/results', 'work/runs/*/results/*']);
    expect(listable('FunctionsReportRole', 'Work')).toEqual(
      ['work/runs/*/loads', 'work/runs/*/loads/*', 'work/runs/*/report.json', 'work/runs/*/results', 'work/runs/*/results/*', 'work/runs/*/shards', 'work/runs/*/shards/*'],
    );
  });
});

it('grants `*` resources only for actions without resource-level permissions', () => {
  const unscopable = new Set([
    'batch:DescribeJobs',
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

it('uses no AWS managed policy except the ECS container-instance policy (and CDK\'s own default-security-group provider)', () => {
  const roles = synth.template.findResources('AWS::IAM::Role') as Record<string, { Properties: { ManagedPolicyArns?: unknown[] } }>;
  const managed = Object.entries(roles).flatMap(([id, r]) =>
    (r.Properties.ManagedPolicyArns ?? []).map((arn) => {
      const value = typeof arn === 'object' && arn && 'Fn::Sub' in arn ? (arn as { 'Fn::Sub': string })['Fn::Sub'].replace('${AWS::Partition}', '<AWS::Partition>') : flat(arn);
      return `${id.replace(/[A-F0-9]{8}$/, '')} ${value}`;
    }),
  );
  expect(managed.sort()).toEqual([
    'ComputeInstanceRole arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
    // The custom resource behind @aws-cdk/aws-ec2:restrictDefaultSecurityGroup (writes its own logs only).
    'CustomVpcRestrictDefaultSGCustomResourceProviderRole arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    // The index job's EC2 (memory-optimised) instances join their ECS cluster the same way.
    'IndexJobInstanceRole arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
  ]);
});
