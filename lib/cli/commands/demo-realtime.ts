/**
 * The demo's real-time part, the AWS chain run locally: the API Lambda's handler → the inference
 * server (`vista serve`, SageMaker's contract) on a free port → the same worker stages as the
 * backfill. One catalog picture, then one broken file, each through the whole chain.
 */
import { promises as fs } from 'node:fs';
import type { Logger } from '../../core/log';
import { createWorker } from '../../core/pipeline/worker';
import { parseWorkerConfig } from '../../core/pipeline/worker-config';
import { makeEnrichService } from '../../core/serving/enrich-service';
import { startInferenceServer } from '../../core/serving/http-server';
import { httpInferenceClient } from '../../core/serving/inference-client';
import { makeApiHandler } from '../../../lambdas/api-enrich';

export async function runRealtimeDemo(options: { modelUri: string; picture: string; broken: string; hotelName: string; city: string; logger: Logger; print: (line: string) => void }): Promise<void> {
  const { print } = options;
  const worker = await createWorker(parseWorkerConfig({ model: options.modelUri }), options.logger);
  const server = await startInferenceServer(makeEnrichService(worker, { allowedUriPrefixes: [] }), { port: 0, host: '127.0.0.1' });
  try {
    print(`inference server (vista serve) at ${server.url}; API Lambda handler in front of it`);
    const api = makeApiHandler(() => httpInferenceClient(server.url));
    for (const file of [options.picture, options.broken]) {
      const started = performance.now();
      const res = await api({
        headers: { 'content-type': 'application/octet-stream' },
        isBase64Encoded: true,
        body: (await fs.readFile(file)).toString('base64'),
        queryStringParameters: { hotel_name: options.hotelName, city: options.city, include_embedding: 'false' },
      });
      const ms = Math.round(performance.now() - started);
      const body = JSON.parse(res.body) as { seo_filename?: string; tags?: string[]; error?: { code: string; message: string } };
      const name = file.split('/').slice(-2).join('/');
      if (res.statusCode === 200) print(`  POST /v1/enrich ${name} → ${res.statusCode} in ${ms} ms: ${body.seo_filename}  [${body.tags!.slice(0, 4).join(', ')}]`);
      else print(`  POST /v1/enrich ${name} → ${res.statusCode} ${body.error!.code}: ${body.error!.message}`);
    }
  } finally {
    await server.close();
    await worker.close();
  }
}
