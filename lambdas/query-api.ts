/**
 * Lambda behind API Gateway (HTTP API, payload 2.0) for the query API: a thin adapter over the
 * same handler as `vista api` (lib/core/api/handler.ts), reading LanceDB on S3. Thumbnails are
 * pre-signed GET URLs, only under the source prefixes.
 * Environment: VISTA_DB_URI (s3://…), VISTA_THUMBNAIL_PREFIXES (comma-separated s3:// prefixes),
 * VISTA_TAXONOMY_URI (optional), VISTA_INFERENCE_ENDPOINT_NAME (optional: the endpoint whose text
 * tower embeds search text, measured and chosen in docs/api.md, "Text embedding: CPU or endpoint";
 * without it text search is its full-text half); set by lib/infra/explorer/query-api.ts.
 */
import { type ApiHandler, makeApiHandler } from '../lib/core/api/handler';
import { QUERY_API_ENV, parseThumbnailPrefixes } from '../lib/core/api/query-api-env';
import { type QueryApiEvent, type QueryApiResult, requestFromEvent, resultFromResponse } from '../lib/core/api/http-api-event';
import { remoteTextModel, type TextModel } from '../lib/core/api/remote-text-model';
import { presignedThumbnails } from '../lib/core/api/thumbnails';
import { SystemErrorCode, VistaError } from '../lib/core/errors';
import { getS3Client } from '../lib/core/io/s3';
import { makeLogger } from '../lib/core/log';
import { inferenceClientFromEnv } from '../lib/core/serving/inference-client';
import { REALTIME_LAMBDA_ENV } from '../lib/core/serving/serving-env';
import { openStore } from '../lib/core/store/connect';
import { readStoreManifest } from '../lib/core/store/store-manifest';
import { loadTaxonomy, resolveTaxonomy, taxonomyId } from '../lib/core/tags';

export { QUERY_API_ENV };

const logger = makeLogger({ json: true });
let ready: Promise<ApiHandler> | undefined;

async function build(env: NodeJS.ProcessEnv): Promise<ApiHandler> {
  const dbUri = env[QUERY_API_ENV.dbUri];
  if (!dbUri) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `${QUERY_API_ENV.dbUri} is not set`);
  const taxonomy = await loadTaxonomy(env[QUERY_API_ENV.taxonomyUri] || undefined);
  // A warm function keeps its store: table handles hold LanceDB's metadata and index caches.
  const store = await openStore(dbUri, { readConsistencySeconds: 60 });
  const endpointName = env[REALTIME_LAMBDA_ENV.endpointName];
  let textModel: Promise<TextModel> | undefined;
  return makeApiHandler({
    store,
    ...(endpointName
      ? {
          // The store's model is read on the first text query, not at cold start (a store may not exist yet).
          textModel: () =>
            (textModel ??= readStoreManifest(dbUri).then((manifest) => remoteTextModel(inferenceClientFromEnv(env), { storeModelId: manifest?.model_id }))).catch((err: unknown) => {
              textModel = undefined;
              throw err;
            }),
        }
      : {}),
    taxonomy: { id: taxonomyId(taxonomy), categories: resolveTaxonomy(taxonomy) },
    thumbnails: presignedThumbnails({ client: getS3Client(), allowedPrefixes: parseThumbnailPrefixes(env[QUERY_API_ENV.thumbnailPrefixes]) }),
    log: (message, fields) => logger.warn(message, fields),
  });
}

export async function handler(event: QueryApiEvent): Promise<QueryApiResult> {
  ready ??= build(process.env);
  ready.catch(() => (ready = undefined));
  const request = requestFromEvent(event);
  if ('status' in request) return resultFromResponse(request);
  return resultFromResponse(await (await ready)(request));
}
