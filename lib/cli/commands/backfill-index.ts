/**
 * `vista backfill index`: the Batch index job's command (and the same by hand). Its own module so
 * that the worker image, which holds runtime packages only, never loads the local runner or the CDK.
 */
import { INDEX_JOB_DB_ENV } from '../../core/backfill/state-names';
import { makeLogger } from '../../core/log';
import { buildIndexes } from '../../core/store/indexer';
import { type CliCommand, stringOpt, usageError } from '../command';

export const command: CliCommand = {
  name: 'backfill index',
  summary: 'Build the LanceDB indexes of a store (the Batch index job); prints the index report as JSON',
  usage: [
    'vista backfill index --db DIR|s3://…',
    'vista backfill index --from-env        (VISTA_DB_URI: the Batch index job)',
  ].join('\n'),
  options: { db: { type: 'string' }, 'from-env': { type: 'boolean' } },
  async run(values) {
    const dbUri = values['from-env'] === true ? process.env[INDEX_JOB_DB_ENV] : stringOpt(values, 'db');
    if (!dbUri) throw usageError(`backfill index needs --db, or --from-env with ${INDEX_JOB_DB_ENV}`);
    const logger = makeLogger();
    const report = await buildIndexes({ dbUri, log: (message) => logger.info(message) });
    console.log(JSON.stringify(report));
    return 0;
  },
};
