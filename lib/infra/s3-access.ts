/**
 * Prefix-scoped S3 grants. CDK's bucket.grantRead/grantWrite give `s3:GetObject*`, `s3:List*`,
 * `s3:DeleteObject*`… on a whole prefix; Vista's roles get exactly the object actions their step
 * performs, on the key patterns of that step (e.g. `work/runs/*\/results/*`), and nothing else.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { allowWildcards } from './nag';

export interface ObjectAccess {
  /** Key patterns whose objects may be read (GetObject; HEAD included). IAM wildcards allowed. */
  readonly read?: string[];
  /** Key patterns that may be written (PutObject, multipart upload, abort). */
  readonly write?: string[];
  /** Key patterns that may be deleted. */
  readonly delete?: string[];
}

export interface GrantObjectsOptions {
  /** Key encrypting the bucket (SSE-KMS), if any. */
  readonly key?: kms.IKey;
  /** Why the grantee needs these prefixes: becomes the reason of the IAM5 acknowledgement. */
  readonly why: string;
}

/**
 * The `s3:prefix` values (StringLike) a grantee may list: each of its key patterns, and for a
 * folder pattern `p/*` also the bare `p` (a listing of "p" without the slash, as LanceDB may do
 * for its database root `db`). `*` inside a pattern matches `/` too, so `work/runs/*\/results/*`
 * covers `work/runs/<run>/results/shard-00001/` and every key below it.
 */
export function listPrefixes(patterns: string[]): string[] {
  const prefixes = new Set<string>();
  for (const p of patterns) {
    prefixes.add(p);
    if (p.endsWith('/*') && p.length > 2) prefixes.add(p.slice(0, -2));
  }
  return [...prefixes];
}

export function grantObjects(grantee: iam.IGrantable, bucket: s3.IBucket, access: ObjectAccess, options: GrantObjectsOptions): void {
  const read = access.read ?? [];
  const write = access.write ?? [];
  const remove = access.delete ?? [];
  const objects = (patterns: string[]) => patterns.map((p) => bucket.arnForObjects(p));

  // Without ListBucket, S3 answers 403 instead of 404 for a missing key, and every "does this
  // marker exist?" check (summary.json, part markers, load outcomes) would fail as access denied.
  // It is limited to the grantee's own prefixes: for that 404 check S3 evaluates s3:prefix as the
  // requested key, and the code lists folders with a trailing slash (`…/results/shard-00001/`,
  // LanceDB's `db/images.lance/_versions/`), which the object patterns already match.
  const prefixes = listPrefixes([...read, ...write, ...remove]);
  if (prefixes.length > 0) {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': prefixes } },
      }),
    );
  }
  if (read.length > 0) iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: objects(read) });
  if (write.length > 0) {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resourceArns: objects(write) });
  }
  if (remove.length > 0) iam.Grant.addToPrincipal({ grantee, actions: ['s3:DeleteObject'], resourceArns: objects(remove) });

  const key = options.key ?? bucket.encryptionKey;
  if (key) {
    if (read.length > 0) key.grant(grantee, 'kms:Decrypt');
    // Multipart uploads decrypt the data key of earlier parts.
    if (write.length > 0) key.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
  }

  const principal = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) return;
  const patterns = [...new Set([...read, ...write, ...remove])].filter((p) => p.includes('*'));
  allowWildcards(
    principal,
    patterns.map((p) => ({ match: { resource: bucket.arnForObjects(p) }, reason: `${options.why} (objects matching "${p}" only)` })),
  );
}
