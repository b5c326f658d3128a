/**
 * The explorer in the serving stack with the default configuration (cdk.json): the query API's two
 * HTTP APIs and their authorizers, the page behind CloudFront with OAC, CORS, and the query
 * function's grants, synthesized with both stacks as bin/app.ts does.
 */
import { openApiDocument } from '../../lib/core/api/openapi';
import { QUERY_API_ENV } from '../../lib/core/api/query-api-env';
import { REALTIME_LAMBDA_ENV } from '../../lib/core/serving/serving-env';
import { FUNCTION_ENV } from '../../lib/infra/vista-function';
import { describeFindings, logicalId } from './support/synth';
import { flatCrossStack as flat, synthVista, type SynthesizedApp } from './support/synth-vista';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthVista({}, { cfnValidation: false });
});
afterAll(() => synth?.cleanup());

const resources = (type: string): Json => synth.serving.findResources(type);
const id = (type: string, prefix: string) => logicalId(synth.serving, type, prefix);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const routesOf = (apiPrefix: string) => {
  const api = id('AWS::ApiGatewayV2::Api', apiPrefix);
  return (Object.values(resources('AWS::ApiGatewayV2::Route')) as Json[]).filter((r) => flat(r.Properties.ApiId) === `<${api}>`);
};
/** Every route of the handler's OpenAPI document, as API Gateway route keys. */
const documentedRoutes = () =>
  Object.entries(openApiDocument().paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();

describe('query API', () => {
  it('serves exactly the handler\'s documented routes on both APIs, to the query function', () => {
    const expected = documentedRoutes();
    expect(expected).toContain('POST /v1/search');
    expect(expected).toContain('GET /v1/images/{image_id}/similar');
    for (const api of ['ExplorerApiServiceApi', 'ExplorerApiPageApi']) {
      expect(routesOf(api).map((r) => r.Properties.RouteKey).sort()).toEqual(expected);
    }
    const fn = id('AWS::Lambda::Function', 'ExplorerApiFunction');
    const integrations = Object.values(resources('AWS::ApiGatewayV2::Integration')).filter((i: Json) => flat(i.Properties.IntegrationUri) === `<${fn}.Arn>`) as Json[];
    expect(integrations).toHaveLength(2);
    for (const i of integrations) expect(i.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0', TimeoutInMillis: 29_000 });
  });

  it('signs services in with IAM (SigV4) on the service API', () => {
    const routes = routesOf('ExplorerApiServiceApi');
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(r.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('accepts only ID tokens of the page\'s Cognito client on the page API (JWT authorizer)', () => {
    const routes = routesOf('ExplorerApiPageApi');
    const authorizerId = id('AWS::ApiGatewayV2::Authorizer', 'ExplorerApiPageApi');
    for (const r of routes) {
      expect(r.Properties.AuthorizationType).toBe('JWT');
      expect(flat(r.Properties.AuthorizerId)).toBe(`<${authorizerId}>`);
    }
    const authorizer = resources('AWS::ApiGatewayV2::Authorizer')[authorizerId].Properties;
    expect(authorizer.AuthorizerType).toBe('JWT');
    expect(authorizer.IdentitySource).toEqual(['$request.header.Authorization']);
    const pool = id('AWS::Cognito::UserPool', 'ExplorerUsersUserPool');
    const client = id('AWS::Cognito::UserPoolClient', 'ExplorerUsersUserPoolPageClient');
    expect(flat(authorizer.JwtConfiguration.Issuer)).toBe(`https://cognito-idp.<AWS::Region>.amazonaws.com/<${pool}>`);
    expect(authorizer.JwtConfiguration.Audience.map(flat)).toEqual([`<${client}>`]);
  });

  it('allows CORS from the page\'s distribution only, and none on the service API', () => {
    const distribution = id('AWS::CloudFront::Distribution', 'ExplorerPageDistribution');
    const page = resources('AWS::ApiGatewayV2::Api')[id('AWS::ApiGatewayV2::Api', 'ExplorerApiPageApi')].Properties;
    expect(page.CorsConfiguration.AllowOrigins.map(flat)).toEqual([`https://<${distribution}.DomainName>`]);
    expect(page.CorsConfiguration.AllowMethods.sort()).toEqual(['GET', 'POST']);
    expect(page.CorsConfiguration.AllowCredentials).toBeUndefined();
    const service = resources('AWS::ApiGatewayV2::Api')[id('AWS::ApiGatewayV2::Api', 'ExplorerApiServiceApi')].Properties;
    expect(service.CorsConfiguration).toBeUndefined();
  });

  it('throttles both APIs and writes their access logs', () => {
    for (const api of ['ExplorerApiServiceApi', 'ExplorerApiPageApi']) {
      const stage = Object.values(resources('AWS::ApiGatewayV2::Stage')).find((s: Json) => flat(s.Properties.ApiId) === `<${id('AWS::ApiGatewayV2::Api', api)}>`) as Json;
      expect(stage.Properties).toMatchObject({ StageName: '$default', AutoDeploy: true, DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 } });
      expect(flat(stage.Properties.AccessLogSettings.DestinationArn)).toBe(`<${id('AWS::Logs::LogGroup', 'ExplorerApiAccessLogs')}.Arn>`);
    }
  });

  it('offers services a policy that invokes the service API\'s routes only', () => {
    const policy = resources('AWS::IAM::ManagedPolicy')[id('AWS::IAM::ManagedPolicy', 'ExplorerApiInvokePolicy')].Properties;
    const statements = policy.PolicyDocument.Statement as Json[];
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('execute-api:Invoke');
    const api = id('AWS::ApiGatewayV2::Api', 'ExplorerApiServiceApi');
    const arns = list(statements[0].Resource).map(flat);
    for (const arn of arns) expect(arn).toMatch(new RegExp(`^arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${api}>/\\$default/(GET|POST)/v1/`));
    expect(arns).toContain(`arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${api}>/$default/POST/v1/search`);
    expect(arns).toContain(`arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${api}>/$default/GET/v1/images/*/similar`);
  });
});

describe('query function', () => {
  const fn = () => resources('AWS::Lambda::Function')[id('AWS::Lambda::Function', 'ExplorerApiFunction')].Properties;
  const statements = () => {
    const role = id('AWS::IAM::Role', 'ExplorerApiFunctionRole');
    return (Object.values(resources('AWS::IAM::Policy')) as Json[])
      .filter((p) => p.Properties.Roles.map(flat).includes(`<${role}>`))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
      .map((s) => ({ actions: list(s.Action) as string[], resources: list(s.Resource).map(flat), effect: s.Effect as string, condition: s.Condition as Json | undefined }));
  };
  const uploads = () => `<${id('AWS::S3::Bucket', 'UploadsBucket')}`;

  it('runs on the LanceDB layer, reading the store and signing thumbnails under the source and uploads prefixes', () => {
    expect(fn().Layers).toHaveLength(1);
    expect(flat(fn().Layers[0])).toBe(`<${id('AWS::Lambda::LayerVersion', 'FunctionsLanceDb')}>`);
    const env = fn().Environment.Variables as Json;
    expect(flat(env[FUNCTION_ENV.dbUri])).toBe('s3://<backfill:StorageVectorStore>/db');
    expect(flat(env[QUERY_API_ENV.thumbnailPrefixes]).split(',')).toEqual(['s3://<backfill:StorageSource>/', `s3://${uploads()}>/uploads/`]);
    expect(env[QUERY_API_ENV.taxonomyUri]).toBeUndefined();
  });

  it('may read the store and the source images, and nothing else on S3: no write, no delete', () => {
    const s3Actions = [...new Set(statements().flatMap((s) => s.actions).filter((a) => a.startsWith('s3:')))].sort();
    expect(s3Actions).toEqual(['s3:GetObject', 's3:ListBucket']);
    const gets = statements().filter((s) => s.actions.includes('s3:GetObject')).flatMap((s) => s.resources).sort();
    // The source bucket's whole key space: `sourcePrefix` is "" by default.
    expect(gets).toEqual(['<backfill:StorageSource.Arn>/*', '<backfill:StorageVectorStore.Arn>/db/*', `${uploads()}.Arn>/uploads/*`].sort());
    for (const s of statements().filter((s) => s.actions.includes('s3:ListBucket'))) expect(s.condition).toBeDefined();
    expect(statements().every((s) => s.effect === 'Allow')).toBe(true);
    const other = statements().flatMap((s) => s.actions).filter((a) => !a.startsWith('s3:') && !a.startsWith('logs:') && !a.startsWith('xray:'));
    expect(other).toEqual(['sagemaker:InvokeEndpoint']);
  });

  it('embeds search text on the serving stack\'s inference endpoint, and may invoke that endpoint only', () => {
    const endpoint = resources('AWS::SageMaker::Endpoint')[id('AWS::SageMaker::Endpoint', 'Inference')].Properties as Json;
    expect(fn().Environment.Variables[REALTIME_LAMBDA_ENV.endpointName]).toBe(endpoint.EndpointName);
    const invoke = statements().filter((s) => s.actions.includes('sagemaker:InvokeEndpoint'));
    expect(invoke).toHaveLength(1);
    expect(invoke[0].resources).toHaveLength(1);
    expect(invoke[0].resources).toEqual([`<${id('AWS::SageMaker::Endpoint', 'Inference')}>`]); // Ref of an endpoint is its ARN
  });
});

describe('page', () => {
  it('is a private bucket: every public access blocked, TLS only', () => {
    const bucketId = id('AWS::S3::Bucket', 'ExplorerPageBucket');
    const bucket = resources('AWS::S3::Bucket')[bucketId].Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.WebsiteConfiguration).toBeUndefined();
    const policy = (Object.values(resources('AWS::S3::BucketPolicy')) as Json[]).find((p) => flat(p.Properties.Bucket) === `<${bucketId}>`)!;
    const statements = policy.Properties.PolicyDocument.Statement as Json[];
    // Only CloudFront, for this distribution (OAC), may read; nobody else is allowed anything.
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0].Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(allows[0].Action).toBe('s3:GetObject');
    const distribution = id('AWS::CloudFront::Distribution', 'ExplorerPageDistribution');
    expect(flat(allows[0].Condition.StringEquals['AWS:SourceArn'])).toBe(`arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<${distribution}>`);
  });

  it('is served by CloudFront through Origin Access Control (no legacy OAI), HTTPS only, with the page\'s CSP', () => {
    const config = resources('AWS::CloudFront::Distribution')[id('AWS::CloudFront::Distribution', 'ExplorerPageDistribution')].Properties.DistributionConfig;
    expect(config.Origins).toHaveLength(1);
    const origin = config.Origins[0];
    expect(flat(origin.OriginAccessControlId)).toBe(`<${id('AWS::CloudFront::OriginAccessControl', 'ExplorerPageDistributionOrigin')}.Id>`);
    expect(origin.S3OriginConfig.OriginAccessIdentity).toBe('');
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(config.DefaultCacheBehavior.AllowedMethods.sort()).toEqual(['GET', 'HEAD']);
    const oac = Object.values(resources('AWS::CloudFront::OriginAccessControl'))[0] as Json;
    expect(oac.Properties.OriginAccessControlConfig).toMatchObject({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' });
    const headers = resources('AWS::CloudFront::ResponseHeadersPolicy')[id('AWS::CloudFront::ResponseHeadersPolicy', 'ExplorerPageHeaders')].Properties.ResponseHeadersPolicyConfig;
    const csp = flat(headers.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain('connect-src \'self\' https://*.execute-api.<AWS::Region>.amazonaws.com https://vista-explorer-<AWS::AccountId>.auth.<AWS::Region>.amazoncognito.com');
    // Thumbnails: pre-signed URLs of the source and uploads buckets (virtual-hosted or path-style).
    const img = /img-src ([^;]*)/.exec(csp)![1].split(' ');
    expect(img.slice(0, 2)).toEqual(["'self'", 'data:']);
    expect(img.slice(2).filter((h) => h.startsWith('https://<backfill:'))).toHaveLength(1);
    expect(img).toContain(`https://<${id('AWS::S3::Bucket', 'UploadsBucket')}.RegionalDomainName>`);
    expect(img).toContain('https://s3.<AWS::Region>.amazonaws.com');
    expect(img).toHaveLength(5);
  });

  it('deploys the page\'s files and a config.js naming the page API and the user pool client', () => {
    const deployments = Object.values(resources('Custom::CDKBucketDeployment')) as Json[];
    expect(deployments.length).toBeGreaterThan(0);
    const bucketId = id('AWS::S3::Bucket', 'ExplorerPageBucket');
    for (const d of deployments) expect(flat(d.Properties.DestinationBucketName)).toBe(`<${bucketId}>`);
    const types = deployments.map((d) => d.Properties.SystemMetadata['content-type']).sort();
    expect(types).toEqual(['text/css; charset=utf-8', 'text/html; charset=utf-8', 'text/javascript; charset=utf-8']);
    const markers = JSON.stringify(deployments.map((d) => d.Properties.SourceMarkers ?? []));
    expect(markers).toContain(id('AWS::ApiGatewayV2::Api', 'ExplorerApiPageApi'));
    expect(markers).toContain(id('AWS::Cognito::UserPoolClient', 'ExplorerUsersUserPoolPageClient'));
  });

  it('signs users in through a pool without self sign-up, MFA required, code flow with PKCE (no client secret)', () => {
    const pool = resources('AWS::Cognito::UserPool')[id('AWS::Cognito::UserPool', 'ExplorerUsersUserPool')].Properties;
    expect(pool.AdminCreateUserConfig.AllowAdminCreateUserOnly).toBe(true);
    expect(pool.MfaConfiguration).toBe('ON');
    const client = resources('AWS::Cognito::UserPoolClient')[id('AWS::Cognito::UserPoolClient', 'ExplorerUsersUserPoolPageClient')].Properties;
    expect(client.GenerateSecret).toBe(false);
    expect(client.AllowedOAuthFlows).toEqual(['code']);
    const distribution = id('AWS::CloudFront::Distribution', 'ExplorerPageDistribution');
    expect(client.CallbackURLs.map(flat)).toEqual([`https://<${distribution}.DomainName>/`]);
  });
});

it('outputs the page URL, the user pool and both API URLs', () => {
  const outputs = synth.serving.findOutputs('*');
  expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['ExplorerUrl', 'ExplorerUserPoolId', 'ExplorerPageApiUrl', 'QueryApiUrl', 'QueryApiInvokePolicyArn']));
});

it('passes cdk-nag\'s AWS Solutions checks', () => {
  expect(describeFindings(synth.nag)).toEqual([]);
});
