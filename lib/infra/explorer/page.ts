/**
 * The explorer page in AWS: its static files (lib/web/explorer, the list `vista api` serves) in a
 * private bucket that only this CloudFront distribution may read (Origin Access Control), served
 * over HTTPS with the page's Content-Security-Policy and security headers.
 *
 *   browser ──HTTPS──▶ CloudFront ──OAC (SigV4)──▶ private S3 bucket (index.html, app.js, …, config.js)
 *
 * `config.js` (where the API is, how to sign in) is written at deploy time with the API's URL and
 * the user pool's client id (ExplorerPageContent), after the API exists: the API's CORS origin is
 * this distribution, so the distribution cannot name the API. The CSP therefore allows
 * `connect-src` to the region's execute-api hosts, and the Cognito domain by its configured name.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { type PageConfig, pageAssets, pageConfigScript, pageContentSecurityPolicy } from '../../web/explorer/assets';
import type { InfraConfig } from '../config';
import { allowWildcards, suppress } from '../nag';
import type { VistaStorage } from '../storage';

export type ExplorerPageConfig = Pick<InfraConfig, 'accessLogRetentionDays'>;

export interface ExplorerPageProps {
  readonly config: ExplorerPageConfig;
  /** The backfill stack's buckets: the page bucket's server access logs go to its logs bucket. */
  readonly storage: VistaStorage;
  /** Hosts the page may load images from (pre-signed thumbnail URLs), e.g. `bucket.s3.<region>.amazonaws.com`. */
  readonly imageHosts: string[];
  /** Hosts the page may call besides the API (the Cognito sign-in domain: token exchange). */
  readonly connectHosts: string[];
}

/** Under the backfill stack's logs bucket. */
export const PAGE_ACCESS_LOGS_PREFIX = 's3/explorer-page/';

export class ExplorerPage extends Construct {
  /** Private: no public access, readable by the distribution only. */
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** CloudFront's standard logs (needs ACLs, which Vista's other buckets disable). */
  readonly logsBucket: s3.Bucket;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  /** `https://<distribution>.cloudfront.net`: the API's only CORS origin. */
  readonly origin: string;
  /** `https://<distribution>.cloudfront.net/`: the page, and the sign-in callback. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ExplorerPageProps) {
    super(scope, id);
    const { config, storage } = props;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: false,
      // Only the page's code, rebuilt from the repository on every deploy; but CloudFormation cannot
      // delete a bucket that still holds files, and the deployments keep theirs (emptying the bucket
      // from one of three deployments would delete the other two's files): kept, like every Vista bucket.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.loggingConfiguration = { destinationBucketName: storage.logsBucket.bucketName, logFilePrefix: PAGE_ACCESS_LOGS_PREFIX };
    storage.allowAccessLogsFromOtherStack(PAGE_ACCESS_LOGS_PREFIX);

    this.logsBucket = new s3.Bucket(this, 'CdnLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // CloudFront's standard logging writes with ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(config.accessLogRetentionDays) }],
    });
    suppress(this.logsBucket, 'AwsSolutions-S1', 'Destination of the distribution\'s access logs; logging this bucket\'s own accesses would add a third log bucket for log reads.');

    const https = (hosts: string[]) => hosts.map((h) => `https://${h}`);
    const region = Stack.of(this).region;
    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: 'Vista explorer: CSP, HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: pageContentSecurityPolicy({
            connectSources: [`https://*.execute-api.${region}.amazonaws.com`, ...https(props.connectHosts)],
            imgSources: https(props.imageHosts),
          }),
          override: true,
        },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Vista explorer page',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket, { originAccessLevels: [cloudfront.AccessLevel.READ] }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeaders,
        compress: true,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logsBucket,
      logFilePrefix: 'cloudfront/',
    });
    suppress(
      this.distribution,
      'AwsSolutions-CFR4',
      'The distribution uses its *.cloudfront.net certificate, for which CloudFront always accepts TLSv1 (the minimum protocol applies to custom certificates only); API calls and data go to API Gateway (TLS 1.2), not through it.',
    );
    suppress(this.distribution, 'AwsSolutions-CFR1', 'The page is static code with no data; who may see the catalog is decided by the API\'s authorizers, not by country.');
    suppress(
      this.distribution,
      'AwsSolutions-CFR2',
      'The distribution serves only the page\'s static files (no data, GET/HEAD only, cached); the catalog is behind the JWT-authorized, throttled API, which a WAF on CloudFront would not cover.',
    );

    this.origin = `https://${this.distribution.distributionDomainName}`;
    this.url = `${this.origin}/`;
  }
}

export interface ExplorerPageContentProps {
  readonly page: ExplorerPage;
  /** What `config.js` tells the page (tokens resolved at deploy time). */
  readonly pageConfig: PageConfig;
}

/** Id prefix of CDK's singleton function behind every BucketDeployment of a stack. */
const DEPLOYMENT_HANDLER_ID_PREFIX = 'Custom::CDKBucketDeployment';

/** Cache-Control of the page's files: CloudFront and browsers revalidate, so a deploy shows at once. */
const REVALIDATE = [s3deploy.CacheControl.noCache()];

/**
 * The page's files in the bucket, one deployment per content type (the S3 copy sets one type per
 * deployment; guessing it from `.mjs` is not reliable, and a module script with the wrong type is
 * refused by browsers). Nothing is pruned: each deployment owns only its own keys.
 */
export class ExplorerPageContent extends Construct {
  readonly deployments: s3deploy.BucketDeployment[];

  constructor(scope: Construct, id: string, props: ExplorerPageContentProps) {
    super(scope, id);
    const byType = new Map<string, s3deploy.ISource[]>();
    const add = (contentType: string, source: s3deploy.ISource) => byType.set(contentType, [...(byType.get(contentType) ?? []), source]);
    for (const asset of pageAssets()) add(asset.contentType, s3deploy.Source.data(asset.urlPath, readFileSync(asset.file, 'utf8')));
    add('text/javascript; charset=utf-8', s3deploy.Source.data('config.js', pageConfigScript(props.pageConfig)));

    this.deployments = [...byType.entries()].map(([contentType, sources], i) => {
      const deployment = new s3deploy.BucketDeployment(this, `Files${i}`, {
        sources,
        destinationBucket: props.page.bucket,
        contentType,
        cacheControl: REVALIDATE,
        prune: false,
        memoryLimit: 256,
      });
      return deployment;
    });
    acknowledgeDeploymentHandler(this, props.page.bucket);
  }
}

/**
 * BucketDeployment copies the files with one Lambda per stack (CDK's, deploy time only), whose
 * role and runtime are CDK's, not ours to narrow.
 */
function acknowledgeDeploymentHandler(scope: Construct, bucket: s3.IBucket): void {
  const stack = Stack.of(scope);
  const handlers = stack.node.children.filter((c) => c.node.id.startsWith(DEPLOYMENT_HANDLER_ID_PREFIX));
  if (handlers.length === 0) throw new Error(`CDK's bucket-deployment handler (${DEPLOYMENT_HANDLER_ID_PREFIX}…) was not found: update this id`);
  const why = 'CDK\'s bucket-deployment custom resource (deploy time only) copies the page\'s files from the CDK asset bucket into the page bucket';
  for (const handler of handlers) {
    suppress(handler, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', `${why}; AWSLambdaBasicExecutionRole lets it write its own logs.`);
    suppress(handler, 'AwsSolutions-L1', `${why}; its runtime is the one CDK ships it with.`);
    allowWildcards(handler, [
      ...['s3:GetBucket*', 's3:GetObject*', 's3:List*', 's3:Abort*', 's3:DeleteObject*'].map((action) => ({ match: { action }, reason: `${why} (CDK's grantRead/grantReadWrite actions).` })),
      { match: { finding: /^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-<AWS::AccountId>-<AWS::Region>\/\*$/ }, reason: `${why}: it reads the page's asset zips from the CDK asset bucket.` },
      { match: { resource: bucket.arnForObjects('*') }, reason: `${why}: it writes the page's files, the only content of that bucket.` },
    ]);
  }
}
