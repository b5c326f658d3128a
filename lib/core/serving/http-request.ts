/**
 * An HTTP request (content type, body, query, SageMaker custom attributes) → a validated
 * EnrichRequest. Shared by the inference server and the API Lambda, so that both accept exactly
 * the same things and refuse the rest with the same REQUEST_INVALID messages.
 */
import { SystemErrorCode, VistaError } from '../errors';
import { type EnrichRequest, enrichRequestSchema, imageMetadataSchema, type TextEmbedRequest, textEmbedRequestSchema } from './protocol';

const METADATA_KEYS = ['image_id', 'hotel_id', 'hotel_name', 'city'] as const;

export interface HttpEnrichInput {
  contentType: string | undefined;
  body: Buffer;
  /** Query-string parameters (metadata for raw image bodies, include_embedding, store). */
  query?: Record<string, string | undefined>;
  /** SageMaker's `X-Amzn-SageMaker-Custom-Attributes` header, if any. */
  customAttributes?: string | string[];
}

/** What the inference server is asked: an image to enrich, or a text to embed (JSON `{"text": …}`). */
export type Invocation = { kind: 'enrich'; request: EnrichRequest } | { kind: 'text'; request: TextEmbedRequest };

export function invocationFromHttp(input: HttpEnrichInput): Invocation {
  if (mediaType(input.contentType) === 'application/json') {
    const body = parseJsonBody(input.body);
    if (body !== null && typeof body === 'object' && 'text' in body) {
      const parsed = textEmbedRequestSchema.safeParse(body);
      if (!parsed.success) throw invalid(parsed.error.issues);
      return { kind: 'text', request: parsed.data };
    }
    return { kind: 'enrich', request: validEnrichRequest(body) };
  }
  return { kind: 'enrich', request: enrichRequestFromHttp(input) };
}

const mediaType = (contentType: string | undefined) => (contentType ?? '').split(';')[0].trim().toLowerCase();

function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'body is not valid JSON');
  }
}

function validEnrichRequest(request: unknown): EnrichRequest {
  const parsed = enrichRequestSchema.safeParse(request);
  if (!parsed.success) throw invalid(parsed.error.issues);
  return parsed.data;
}

export function enrichRequestFromHttp(input: HttpEnrichInput): EnrichRequest {
  const type = mediaType(input.contentType);
  let request: unknown;
  if (type === 'application/json') {
    request = parseJsonBody(input.body);
  } else if (type.startsWith('image/') || type === 'application/octet-stream') {
    const attributes = parseCustomAttributes(input.customAttributes);
    const metadata: Record<string, string> = {};
    for (const key of METADATA_KEYS) {
      const value = input.query?.[key] ?? attributes[key];
      if (value) metadata[key] = value;
    }
    if (input.body.length === 0) throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'empty body: send the image bytes');
    const parsed = imageMetadataSchema.safeParse({ ...metadata, include_embedding: input.query?.include_embedding !== 'false', ...(input.query?.store === 'true' ? { store: true } : {}) });
    if (!parsed.success) throw invalid(parsed.error.issues);
    return { ...parsed.data, image_bytes: input.body };
  } else {
    throw new VistaError(SystemErrorCode.REQUEST_INVALID, `unsupported content-type "${type}": send application/json or the image bytes (image/*)`);
  }
  return validEnrichRequest(request);
}

function invalid(issues: { path: PropertyKey[]; message: string }[]): VistaError {
  const text = issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  return new VistaError(SystemErrorCode.REQUEST_INVALID, `invalid request: ${text}`);
}

/** SageMaker's CustomAttributes: `key=value;key=value`, values URL-encoded. */
export function parseCustomAttributes(header: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const text = Array.isArray(header) ? header.join(';') : (header ?? '');
  for (const pair of text.split(';')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      out[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // a malformed escape: leave that attribute out
    }
  }
  return out;
}
