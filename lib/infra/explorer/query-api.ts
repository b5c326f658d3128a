/**
 * The query API in AWS: one Lambda (lambdas/query-api.ts, the same handler as `vista api`) reading
 * the LanceDB store on S3, behind two HTTP APIs that differ only in who may call them:
 *
 *   services   ──SigV4──────────▶ service API (AWS_IAM)  ─┐
 *   page users ──Cognito ID token─▶ page API (JWT, CORS)  ─┴─▶ query function ──▶ s3://<vectors>/db (read)
 *                                                                              └─▶ pre-signed GETs of source images
 *
 * Why two APIs rather than two route sets or two stages of one: in an HTTP API the authorizer
 * belongs to the route, and every stage serves the same routes, so stages cannot differ in
 * authorization; two route sets in one API would need a path prefix the handler must strip, and
 * CORS is set per API (the service API needs none). Two APIs keep the handler's paths (`/v1/…`)
 * on both, and give each its own throttling and access log. Both cost nothing while idle.
 *
 * The routes are those of the OpenAPI document the handler serves (lib/core/api/openapi.ts), so
 * the API cannot drift from the handler; any other path is answered 404 by API Gateway without
 * invoking the function.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { openApiDocument } from '../../core/api/openapi';
import type { InfraConfig } from '../config';
import type { LanceDbLayer } from '../lancedb-layer';
import { allowWildcards } from '../nag';
import type { VistaStorage } from '../storage';
import { type ThumbnailSource, VistaFunction } from '../vista-function';
import type { ExplorerUsers } from './users';

export type QueryApiConfig = Pick<
  InfraConfig,
  'explorerMemoryMiB' | 'explorerTimeoutSeconds' | 'explorerThrottleRate' | 'explorerThrottleBurst' | 'logRetentionDays' | 'taxonomyPath'
>;

export interface QueryApiProps {
  readonly config: QueryApiConfig;
  readonly storage: VistaStorage;
  /** LanceDB's native module (the serving stack's layer). */
  readonly lanceDb: LanceDbLayer;
  /** Where thumbnails may be pre-signed: the source images (and the uploads). */
  readonly thumbnailSources: readonly ThumbnailSource[];
  /** Whose ID tokens the page API accepts. */
  readonly users: ExplorerUsers;
  /** The page's origin (`https://<distribution>.cloudfront.net`): the page API's only CORS origin. */
  readonly pageOrigin: string;
  /**
   * The SageMaker endpoint that embeds search text (`{"text": …}` on /invocations).
   * @default - none: text search is its full-text half
   */
  readonly textEndpoint?: TextEndpoint;
}

export interface TextEndpoint {
  readonly endpointName: string;
  readonly endpointArn: string;
}

export const QUERY_API_HANDLER = 'lambdas/query-api.ts';
/** How long the API waits for the function (API Gateway's limit is 30 s); the function's timeout is shorter. */
export const QUERY_INTEGRATION_TIMEOUT = Duration.seconds(29);
const STAGE = '$default';

/** `{method, path}` of every route of the query API, from its OpenAPI document (`/v1/images/{image_id}`, …). */
export function queryApiRoutes(): { method: apigw.HttpMethod; path: string }[] {
  const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
  return Object.entries(paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => ({ method: method.toUpperCase() as apigw.HttpMethod, path })),
  );
}

const ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  sourceIp: '$context.identity.sourceIp',
  caller: '$context.identity.userArn',
  user: '$context.authorizer.claims.sub',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatencyMs: '$context.responseLatency',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
  authorizerError: '$context.authorizer.error',
};

export class QueryApi extends Construct {
  readonly function: VistaFunction;
  /** For services: SigV4 (execute-api:Invoke, see `invokePolicy`). */
  readonly serviceApi: apigw.HttpApi;
  /** For the page's users: a Cognito ID token of the page's client, from the page's origin only. */
  readonly pageApi: apigw.HttpApi;
  readonly accessLogs: logs.LogGroup;
  /** `https://<id>.execute-api.<region>.amazonaws.com` (routes under /v1). */
  readonly serviceUrl: string;
  readonly pageApiUrl: string;
  /** execute-api:Invoke on every route of the service API (read-only by nature): attach to a caller's role. */
  readonly invokePolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    const { config, storage } = props;

    this.function = new VistaFunction(this, 'Function', {
      entry: QUERY_API_HANDLER,
      description: 'Vista explorer: the query API (similar, search, recommendations, hotels, tags) over the LanceDB store',
      logRetention: config.logRetentionDays as logs.RetentionDays,
      memorySize: config.explorerMemoryMiB,
      timeout: Duration.seconds(config.explorerTimeoutSeconds),
      lanceDb: props.lanceDb,
    })
      .bindVectorStoreReadOnly(storage)
      .bindThumbnailSources(props.thumbnailSources);
    if (config.taxonomyPath) this.function.bindTaxonomy(storage, config.taxonomyPath);
    if (props.textEndpoint) this.function.bindInferenceEndpoint(props.textEndpoint);

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: config.logRetentionDays as logs.RetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    this.serviceApi = this.makeApi('ServiceApi', 'Vista query API for services (SigV4-signed)', new HttpIamAuthorizer(), config);
    this.pageApi = this.makeApi(
      'PageApi',
      'Vista query API for the explorer page (Cognito ID token)',
      new HttpUserPoolAuthorizer('PageUsers', props.users.userPool, { userPoolClients: [props.users.pageClient], identitySource: ['$request.header.Authorization'] }),
      config,
      {
        allowOrigins: [props.pageOrigin],
        allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.hours(1),
      },
    );
    this.serviceUrl = this.serviceApi.apiEndpoint;
    this.pageApiUrl = this.pageApi.apiEndpoint;

    // A path parameter is `*` in an execute-api ARN.
    const routeArns = [...new Set(queryApiRoutes().map((r) => this.serviceApi.arnForExecuteApi(r.method, r.path.replace(/\{[^}]+\}/g, '*'), STAGE)))];
    this.invokePolicy = new iam.ManagedPolicy(this, 'InvokePolicy', {
      description: 'Vista: call the query API (SigV4): similar, search, recommendations, hotels, tags',
      statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: routeArns })],
    });
    allowWildcards(
      this.invokePolicy,
      routeArns.filter((arn) => arn.includes('*')).map((arn) => ({ match: { resource: arn }, reason: 'A route with a path parameter ({image_id}, {hotel_id}) is `*` in its execute-api ARN: one route, any id.' })),
    );
  }

  private makeApi(
    id: string,
    description: string,
    authorizer: apigw.IHttpRouteAuthorizer,
    config: QueryApiConfig,
    corsPreflight?: apigw.CorsPreflightOptions,
  ): apigw.HttpApi {
    const api = new apigw.HttpApi(this, id, { description, createDefaultStage: false, corsPreflight });
    // An integration belongs to one API: each API has its own, to the same function.
    const integration = new HttpLambdaIntegration(`${id}Query`, this.function, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
      timeout: QUERY_INTEGRATION_TIMEOUT,
    });
    for (const route of queryApiRoutes()) api.addRoutes({ path: route.path, methods: [route.method], integration, authorizer });
    api.addStage('DefaultStage', {
      stageName: STAGE,
      autoDeploy: true,
      throttle: { rateLimit: config.explorerThrottleRate, burstLimit: config.explorerThrottleBurst },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify({ api: id, ...ACCESS_LOG_FIELDS })),
      },
    });
    return api;
  }
}
