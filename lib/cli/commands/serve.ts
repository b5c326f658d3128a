import { makeLogger } from '../../core/log';
import { createWorker } from '../../core/pipeline/worker';
import { parseWorkerConfig } from '../../core/pipeline/worker-config';
import { makeEnrichService } from '../../core/serving/enrich-service';
import { startInferenceServer } from '../../core/serving/http-server';
import { SERVING_ENV } from '../../core/serving/serving-env';
import { type CliCommand, intOpt, stringOpt, stringsOpt } from '../command';

const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  model: { type: 'string' },
  taxonomy: { type: 'string' },
  artifacts: { type: 'string' },
  provider: { type: 'string' },
  'max-batch': { type: 'string' },
  'max-wait-ms': { type: 'string' },
  'allow-uri-prefix': { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

export const command: CliCommand = {
  name: 'serve',
  summary: 'Serve real-time enrichment over HTTP (SageMaker contract: GET /ping, POST /invocations)',
  usage: [
    'vista serve [--port 8080] [--model DIR|s3://…] [options]',
    '',
    '  --port N              listen port (default $SAGEMAKER_BIND_TO_PORT or 8080)',
    '  --host H              listen address (default 0.0.0.0)',
    '  --model URI           Hugging Face ONNX CLIP export. Default: tiny random model (meaningless tags)',
    '  --taxonomy URI        taxonomy JSON (default: bundled hotel taxonomy)',
    '  --artifacts URI       label-bank cache',
    '  --provider P          auto | cuda | webgpu | cpu',
    '  --max-batch N         requests grouped into one model call (default 16)',
    '  --max-wait-ms N       how long a request may wait for others to batch with (default 5)',
    '  --allow-uri-prefix P  a URI prefix requests may ask to fetch (repeatable; default s3://)',
    '',
    'Example:',
    '  curl -s localhost:8080/invocations -H content-type:image/jpeg --data-binary @room.jpg',
    `The container reads ${Object.values(SERVING_ENV).join(', ')} when flags are absent.`,
  ].join('\n'),
  options,
  async run(values) {
    const env = process.env;
    const logger = makeLogger({ json: values.json === true ? true : undefined });
    const config = parseWorkerConfig({
      model: stringOpt(values, 'model') ?? (env[SERVING_ENV.modelUri] || undefined),
      taxonomy: stringOpt(values, 'taxonomy') ?? (env[SERVING_ENV.taxonomyUri] || undefined),
      ...(stringOpt(values, 'artifacts') ?? env[SERVING_ENV.artifactsUri] ? { artifacts: stringOpt(values, 'artifacts') ?? env[SERVING_ENV.artifactsUri] } : {}),
      provider: stringOpt(values, 'provider') ?? (env[SERVING_ENV.provider] || 'auto'),
      // A caller waits (SageMaker cuts an invocation at 60 s): at most 3 × 10 s plus backoff for a fetch.
      fetchTimeoutMs: 10_000,
      fetchRetries: 2,
    });
    const flagsPrefixes = stringsOpt(values, 'allow-uri-prefix');
    const envPrefixes = (env[SERVING_ENV.allowedUriPrefixes] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const allowedUriPrefixes = flagsPrefixes.length ? flagsPrefixes : envPrefixes.length ? envPrefixes : ['s3://'];

    const worker = await createWorker(config, logger);
    const service = makeEnrichService(worker, {
      maxSize: intOpt(values, 'max-batch') ?? (Number(env[SERVING_ENV.maxBatchSize]) || 16),
      maxWaitMs: intOpt(values, 'max-wait-ms', 5),
      allowedUriPrefixes,
    });
    const server = await startInferenceServer(service, {
      port: intOpt(values, 'port') ?? (Number(env[SERVING_ENV.port]) || 8080),
      host: stringOpt(values, 'host'),
      logger,
    });
    logger.info('serving', { url: server.url, model: worker.model.id, provider: worker.model.provider, allowed_uri_prefixes: allowedUriPrefixes });

    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    logger.info('shutting down');
    await server.close();
    await worker.close();
    return 0;
  },
};
