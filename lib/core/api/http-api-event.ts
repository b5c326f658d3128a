/**
 * API Gateway HTTP API (payload 2.0) ⇄ the query API's request and answer: what the Lambda
 * adapter (lambdas/query-api.ts) needs, kept here so that it is tested without AWS.
 */
import { SystemErrorCode } from '../errors';
import type { ApiRequest, ApiResponse } from './handler';

export interface QueryApiEvent {
  rawPath?: string;
  requestContext?: { http?: { method?: string; path?: string } };
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface QueryApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}

/** The request, or an answer when the body is not JSON. */
export function requestFromEvent(event: QueryApiEvent): ApiRequest | ApiResponse {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = event.rawPath ?? event.requestContext?.http?.path ?? '/';
  let body: unknown;
  if (event.body) {
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, headers: { 'content-type': 'application/json' }, body: { error: { code: SystemErrorCode.REQUEST_INVALID, message: 'body is not JSON' } } };
    }
  }
  return { method, path, query: event.queryStringParameters ?? {}, body };
}

export function resultFromResponse(response: ApiResponse): QueryApiResult {
  if (Buffer.isBuffer(response.body)) return { statusCode: response.status, headers: response.headers, body: response.body.toString('base64'), isBase64Encoded: true };
  const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  return { statusCode: response.status, headers: response.headers, body };
}
