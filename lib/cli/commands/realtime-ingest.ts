import { makeLogger } from '../../core/log';
import { DEFAULT_SETTLE_SECONDS, ingestRealtime } from '../../core/serving/realtime-ingest';
import { REALTIME_LAMBDA_ENV, realtimeIngestEnv } from '../../core/serving/serving-env';
import { type CliCommand, countOpt, intOpt, requireOpt } from '../command';

const USAGE = [
  'vista realtime ingest --inbox URI --batches URI --db URI [--settle-seconds N] [--max-records N]',
  'vista realtime ingest --from-env',
  '',
  'Loads the real-time outcomes waiting in the inbox (what the upload trigger dropped there) into',
  'LanceDB, finishing first whatever an interrupted run left. What the deployed ingest function',
  'does every few minutes; run it by hand to ingest now. Never run two at once on one inbox.',
  '',
  '  --inbox URI           the inbox (local folder or s3://…/realtime/inbox/)',
  '  --batches URI         where batches and their markers go (…/realtime/batches/)',
  '  --db URI              the LanceDB database (the backfill\'s)',
  `  --settle-seconds N    take only records older than this, above the upload function's timeout (default ${DEFAULT_SETTLE_SECONDS})`,
  '  --max-records N       inbox records per batch (default 10000)',
  `  --from-env            ${REALTIME_LAMBDA_ENV.inboxUri}, ${REALTIME_LAMBDA_ENV.batchesUri}, ${REALTIME_LAMBDA_ENV.dbUri} (and ${REALTIME_LAMBDA_ENV.settleSeconds})`,
].join('\n');

export const command: CliCommand = {
  name: 'realtime ingest',
  summary: 'Load real-time outcomes (the upload trigger\'s inbox) into LanceDB',
  usage: USAGE,
  options: {
    inbox: { type: 'string' },
    batches: { type: 'string' },
    db: { type: 'string' },
    'settle-seconds': { type: 'string' },
    'max-records': { type: 'string' },
    'from-env': { type: 'boolean' },
  },
  async run(values) {
    const option = (name: string): string => requireOpt(values, name, 'or --from-env');
    const where =
      values['from-env'] === true
        ? realtimeIngestEnv(process.env)
        : { inboxUri: option('inbox'), batchesUri: option('batches'), dbUri: option('db'), settleSeconds: intOpt(values, 'settle-seconds', DEFAULT_SETTLE_SECONDS, { min: 0 }) };
    const result = await ingestRealtime({
      ...where,
      maxRecordsPerBatch: countOpt(values, 'max-records', 10_000),
      logger: makeLogger({ json: !process.stderr.isTTY }),
    });
    const rows = result.batches.reduce((n, b) => n + b.rows, 0);
    const failed = result.batches.reduce((n, b) => n + b.failed, 0);
    console.log(`${result.batches.length} batch(es): ${rows} rows, ${failed} failure records${result.leftInInbox ? `; records left in the inbox (${result.leftInInbox})` : ''}`);
    return 0;
  },
};
