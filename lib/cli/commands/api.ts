import * as path from 'node:path';
import { makeApiHandler } from '../../core/api/handler';
import { startApiServer } from '../../core/api/server';
import { servedThumbnails } from '../../core/api/thumbnails';
import { isS3Uri } from '../../core/io/s3';
import { makeImageSource } from '../../core/io/source';
import { makeLogger } from '../../core/log';
import { openStore } from '../../core/store/connect';
import { loadTaxonomy, resolveTaxonomy, taxonomyId } from '../../core/tags';
import type { ClipModel } from '../../core/types';
import { type CliCommand, intOpt, stringOpt, stringsOpt } from '../command';
import { textModelLocation } from './search';

const options = {
  db: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  model: { type: 'string' },
  taxonomy: { type: 'string' },
  'source-prefix': { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

export const command: CliCommand = {
  name: 'api',
  summary: 'Serve the query API (/v1/…) and the explorer page (/) over a store',
  usage: [
    'vista api --db DIR|s3://… [--port 8080] [--model DIR] [options]',
    '',
    '  --db URI             LanceDB database (local folder or s3://bucket/prefix)',
    '  --port N             listen port (default 8080; 0 picks a free one)',
    '  --host H             listen address (default 127.0.0.1)',
    '  --model DIR          CLIP model whose text tower embeds search text (default: the tiny model if present;',
    '                       without one, text search is full-text only)',
    '  --taxonomy URI       taxonomy JSON for tag names (default: bundled hotel taxonomy)',
    '  --source-prefix P    where thumbnails may be read from (repeatable; default: the working folder and s3://)',
    '',
    'Open the printed URL for the page; the API is described at /v1/openapi.json (docs/api.md).',
  ].join('\n'),
  options,
  async run(values) {
    const db = stringOpt(values, 'db');
    if (!db) {
      console.error(`vista api: --db is required\n\n${command.usage}`);
      return 2;
    }
    const logger = makeLogger({ json: values.json === true ? true : undefined });
    const store = await openStore(db);
    const taxonomy = await loadTaxonomy(stringOpt(values, 'taxonomy'));
    let modelDir: string | undefined;
    try {
      modelDir = textModelLocation(stringOpt(values, 'model'));
    } catch {
      logger.warn('no CLIP model: text search uses full text only (pass --model DIR for the text tower)');
    }
    let model: Promise<ClipModel> | undefined;
    const textModel = modelDir
      ? () => {
          // Loaded on first text search: onnxruntime is not needed for anything else.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { loadClipModel } = require('../../core/model') as typeof import('../../core/model');
          model ??= loadClipModel(modelDir!, { logger: () => undefined });
          return model;
        }
      : undefined;
    const prefixes = stringsOpt(values, 'source-prefix');
    const handler = makeApiHandler({
      store,
      taxonomy: { id: taxonomyId(taxonomy), categories: resolveTaxonomy(taxonomy) },
      textModel,
      thumbnails: servedThumbnails({
        source: makeImageSource(),
        allowedPrefixes: prefixes.length ? prefixes.map((p) => (isS3Uri(p) ? p : path.resolve(p))) : [process.cwd() + path.sep, 's3://'],
      }),
      log: (message, fields) => logger.warn(message, fields),
    });
    const server = await startApiServer(handler, { port: intOpt(values, 'port', 8080), host: stringOpt(values, 'host'), logger });
    if (modelDir && /tiny/.test(modelDir)) logger.warn('the tiny model has random weights: text search ranks meaninglessly (tags and full text still match)');
    console.log(`Vista explorer: ${server.url}/   (API: ${server.url}/v1/openapi.json; Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    await (await model)?.close();
    store.close();
    return 0;
  },
};
