/**
 * The GPU container's entrypoint: one AWS Batch array child = one shard. Everything comes from
 * the environment (see lib/core/pipeline/batch-job.ts); the exit code tells Batch whether to retry.
 */
import { main } from '../lib/cli/main';

void main(['worker', '--from-env', ...process.argv.slice(2)]);
