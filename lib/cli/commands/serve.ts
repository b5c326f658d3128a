import * as net from 'node:net';
import { makeLogger } from '../../core/log';
import { createWorker } from '../../core/pipeline/worker';
import { parseWorkerConfig } from '../../core/pipeline/worker-config';
import { makeEnrichService } from '../../core/serving/enrich-service';
import { startInferenceServer } from '../../core/serving/http-server';
import { SERVING_ENV } from '../../core/serving/serving-env';
import { type CliCommand, choiceOpt, countOpt, intOpt, portOpt, stringOpt, stringsOpt, usageError } from '../command';

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
    // Every flag is checked before the model loads: a typo answers at once, not after a minute.
    const listen = { port: portOpt(values, 'port', envInt(SERVING_ENV.port) ?? 8080), host: stringOpt(values, 'host') };
    const batching = {
      maxSize: countOpt(values, 'max-batch', envInt(SERVING_ENV.maxBatchSize) ?? 16),
      maxWaitMs: intOpt(values, 'max-wait-ms', 5, { min: 0, max: 60_000 }),
    };
    const config = parseWorkerConfig({
      model: stringOpt(values, 'model') ?? (env[SERVING_ENV.modelUri] || undefined),
      taxonomy: stringOpt(values, 'taxonomy') ?? (env[SERVING_ENV.taxonomyUri] || undefined),
      ...(stringOpt(values, 'artifacts') ?? env[SERVING_ENV.artifactsUri] ? { artifacts: stringOpt(values, 'artifacts') ?? env[SERVING_ENV.artifactsUri] } : {}),
      provider: choiceOpt(values, 'provider', ['auto', 'cuda', 'webgpu', 'cpu']) ?? (env[SERVING_ENV.provider] || 'auto'),
      // A caller waits (SageMaker cuts an invocation at 60 s): at most 3 × 10 s plus backoff for a fetch.
      fetchTimeoutMs: 10_000,
      fetchRetries: 2,
    });
    const flagsPrefixes = stringsOpt(values, 'allow-uri-prefix');
    const envPrefixes = (env[SERVING_ENV.allowedUriPrefixes] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const allowedUriPrefixes = flagsPrefixes.length ? flagsPrefixes : envPrefixes.length ? envPrefixes : ['s3://'];

    // A busy port or a foreign address is reported before the model loads, not a minute later.
    await probeListen(listen.port, listen.host);
    const worker = await createWorker(config, logger);
    let server: Awaited<ReturnType<typeof startInferenceServer>>;
    try {
      // The text tower too: the query API embeds search text here (docs/api.md, "Text embedding").
      const service = makeEnrichService({ source: worker.source, decoder: worker.decoder, enricher: worker.enricher, textEncoder: worker.model }, { ...batching, allowedUriPrefixes });
      server = await startInferenceServer(service, { ...listen, logger }).catch((err: unknown) => {
        throw listenError(err, listen.port, listen.host);
      });
    } catch (err) {
      // The model (and its thread) must not keep the process alive after the error is reported.
      await worker.close().catch(() => undefined);
      throw err;
    }
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

function envInt(name: string): number | undefined {
  const value = Number(process.env[name] || undefined);
  return Number.isInteger(value) ? value : undefined;
}

/** Listens on the port for a moment and closes it again; throws what listening would throw. */
async function probeListen(port: number, host: string | undefined): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, host ?? '0.0.0.0', () => resolve());
    });
  } catch (err) {
    throw listenError(err, port, host);
  }
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** Why the server could not listen, as what to do instead (a busy or privileged port, a bad address). */
function listenError(err: unknown, port: number, host: string | undefined): unknown {
  const code = (err as { code?: string }).code;
  const where = `${host ?? '0.0.0.0'}:${port}`;
  if (code === 'EADDRINUSE') return usageError(`port ${port} is already in use: stop what listens on it or choose another --port`);
  if (code === 'EACCES') return usageError(`not allowed to listen on ${where}: choose a --port above 1023`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return usageError(`cannot listen on ${where}: --host must be an address of this machine (e.g. 127.0.0.1 or 0.0.0.0)`);
  return err;
}
