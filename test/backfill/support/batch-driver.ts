// Runs a local Batch array job of two children that never end on their own (`node
// test/backfill/support/batch-driver.ts LOG_DIR`, under tsx): the kill tests kill this process.
import { makeLocalBatch } from '../../../lib/core/backfill/local-batch';

const batch = makeLocalBatch({ workers: 2, logDir: process.argv[2] });
void batch.submitJobSync({
  JobName: 'sleepers',
  JobQueue: 'local',
  JobDefinition: 'local',
  ArrayProperties: { Size: 2 },
  ContainerOverrides: { Command: ['node', '-e', 'setInterval(() => undefined, 1000)'] },
});
