import { formatImageRecord, showImage } from '../../core/catalog/show';
import { openStore } from '../../core/store/connect';
import { type CliCommand, stringOpt } from '../command';

const USAGE = [
  'vista show IMAGE_ID --db DIR|s3://… [--json] [--with-embedding]',
  '',
  '  --db URI            LanceDB database (local folder or s3://bucket/prefix)',
  '  --json              JSON instead of a listing',
  '  --with-embedding    include the full embedding (with --json)',
  '',
  'Prints every stored column of the image, its tags with their scores, a summary of its embedding,',
  'and its error records if it failed. Exit code 1 when the store knows nothing about the image.',
  '',
  'Example:',
  '  vista show hotel-42-img-7 --db .vista/db',
].join('\n');

export const command: CliCommand = {
  name: 'show',
  summary: 'Everything stored for one image: columns, tags with scores, embedding summary, error records',
  usage: USAGE,
  options: { db: { type: 'string' }, json: { type: 'boolean' }, 'with-embedding': { type: 'boolean' } },
  async run(values, positionals) {
    const db = stringOpt(values, 'db');
    if (!db || positionals.length !== 1) {
      console.error(`vista show: give one IMAGE_ID and --db\n\n${USAGE}`);
      return 2;
    }
    const store = await openStore(db);
    try {
      const record = await showImage(store, positionals[0], { withEmbedding: values['with-embedding'] === true });
      console.log(values.json === true ? JSON.stringify(record, null, 2) : formatImageRecord(record));
      return record.row || record.errors.length > 0 ? 0 : 1;
    } finally {
      store.close();
    }
  },
};
