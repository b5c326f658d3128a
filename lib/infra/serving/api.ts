/**
 * The enrichment API: an API Gateway HTTP API with two routes to the API function (payload format
 * 2.0): `POST /v1/enrich` answers and stores nothing; `POST /v1/images` also puts the outcome in
 * the catalog store, replacing what it held for that image_id. Callers sign their requests with
 * SigV4 (AWS_IAM authorization): a role or user needs `execute-api:Invoke` on a route's ARN, and
 * the two managed policies grant one route each, so callers that may enrich cannot overwrite the
 * catalog. Every other path answers 404 without invoking anything. Throttled at the stage,
 * access-logged as JSON to CloudWatch Logs.
 *
 * Limits that shape the API (docs/deploy.md, "Real-time path"): API Gateway accepts 10 MB
 * payloads and waits 30 seconds; a synchronous Lambda invocation carries 6 MB, so an inline
 * base64 image can be ~4.4 MB at most; bigger ones go through the uploads bucket.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { API_PATHS } from '../../core/serving/protocol';
import type { InfraConfig } from '../config';

export type EnrichApiConfig = Pick<InfraConfig, 'apiThrottleRate' | 'apiThrottleBurst' | 'logRetentionDays'>;

export interface EnrichApiProps {
  readonly config: EnrichApiConfig;
  /** The function behind POST /v1/enrich. */
  readonly handler: lambda.IFunction;
}

export const ENRICH_ROUTE = { method: apigw.HttpMethod.POST, path: API_PATHS.enrich } as const;
export const STORE_ROUTE = { method: apigw.HttpMethod.POST, path: API_PATHS.store } as const;
/** How long the API waits for the function; the function's own timeout (apiTimeoutSeconds) is shorter. */
export const INTEGRATION_TIMEOUT = Duration.seconds(29);
/** The default stage: the API's URL has no stage segment. */
const STAGE = '$default';

/** One JSON object per request (who called, what, the outcome and where the time went). */
const ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTimeEpoch',
  sourceIp: '$context.identity.sourceIp',
  caller: '$context.identity.userArn',
  userAgent: '$context.identity.userAgent',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  requestLength: '$context.requestLength',
  responseLength: '$context.responseLength',
  responseLatencyMs: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatencyMs: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
  authorizerError: '$context.authorizer.error',
};

export class EnrichApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** `https://<api id>.execute-api.<region>.amazonaws.com/v1/enrich`. */
  readonly enrichUrl: string;
  /** `arn:…:execute-api:<region>:<account>:<api id>/$default/POST/v1/enrich`: what a caller must be allowed to invoke. */
  readonly enrichRouteArn: string;
  /** A managed policy allowing exactly `execute-api:Invoke` on the enrich route: attach it to the callers' roles. */
  readonly invokePolicy: iam.ManagedPolicy;
  /** `https://<api id>.execute-api.<region>.amazonaws.com/v1/images`. */
  readonly storeUrl: string;
  /** A managed policy allowing exactly `execute-api:Invoke` on the store route: for the services that add images to the catalog. */
  readonly storePolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: EnrichApiProps) {
    super(scope, id);
    const { config } = props;

    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Vista real-time enrichment (POST /v1/enrich, SigV4-signed)',
      // The stage below carries throttling and access logs, which the implicit one cannot.
      createDefaultStage: false,
    });
    const integration = new HttpLambdaIntegration('Enrich', props.handler, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
      // The most an HTTP API integration may take (API Gateway's hard limit is 30 s).
      timeout: INTEGRATION_TIMEOUT,
    });
    for (const route of [ENRICH_ROUTE, STORE_ROUTE]) {
      this.httpApi.addRoutes({ path: route.path, methods: [route.method], integration, authorizer: new HttpIamAuthorizer() });
    }

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: config.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: STAGE,
      autoDeploy: true,
      throttle: { rateLimit: config.apiThrottleRate, burstLimit: config.apiThrottleBurst },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    this.enrichUrl = `${this.httpApi.apiEndpoint}${ENRICH_ROUTE.path}`;
    this.enrichRouteArn = this.httpApi.arnForExecuteApi(ENRICH_ROUTE.method, ENRICH_ROUTE.path, STAGE);
    this.invokePolicy = new iam.ManagedPolicy(this, 'InvokePolicy', {
      description: 'Vista: call POST /v1/enrich of the enrichment API (SigV4)',
      statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: [this.enrichRouteArn] })],
    });
    this.storeUrl = `${this.httpApi.apiEndpoint}${STORE_ROUTE.path}`;
    this.storePolicy = new iam.ManagedPolicy(this, 'StorePolicy', {
      description: 'Vista: call POST /v1/images of the enrichment API (SigV4): enrich and store in the catalog',
      statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: [this.httpApi.arnForExecuteApi(STORE_ROUTE.method, STORE_ROUTE.path, STAGE)] })],
    });
  }
}
