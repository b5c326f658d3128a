/**
 * The Embed step's waves: AWS Batch array jobs hold at most 10,000 children, so a run of more
 * shards is embedded as several array jobs ("waves") of at most `maxArraySize` children each,
 * a bounded number at a time. Child `i` of the wave starting at shard `firstShard` works on shard
 * `firstShard + i` (VISTA_SHARD_OFFSET); a child past the last shard idles (arrays have ≥ 2).
 */
import { MAX_BATCH_ARRAY_SIZE, MIN_BATCH_ARRAY_SIZE } from './layout';

export interface Wave {
  wave: number;
  firstShard: number;
  /** `firstShard` as a string, for the container environment. */
  firstShardText: string;
  shardCount: number;
  /** ≥ 2: Batch arrays have at least two children. */
  arraySize: number;
  /** `vista-backfill-<runId>-w<wave>`: the array job's name. */
  jobName: string;
}

export function planWaves(runId: string, shardCount: number, maxArraySize: number): Wave[] {
  if (!Number.isInteger(maxArraySize) || maxArraySize < MIN_BATCH_ARRAY_SIZE || maxArraySize > MAX_BATCH_ARRAY_SIZE) {
    throw new RangeError(`maxArraySize must be an integer from ${MIN_BATCH_ARRAY_SIZE} to ${MAX_BATCH_ARRAY_SIZE}, got ${maxArraySize}`);
  }
  const waves: Wave[] = [];
  for (let first = 0, wave = 0; first < shardCount; first += maxArraySize, wave++) {
    const count = Math.min(maxArraySize, shardCount - first);
    waves.push({
      wave,
      firstShard: first,
      firstShardText: String(first),
      shardCount: count,
      arraySize: Math.max(MIN_BATCH_ARRAY_SIZE, count),
      jobName: `vista-backfill-${runId}-w${wave}`,
    });
  }
  return waves;
}

/** The wave that embeds a shard. */
export function waveOfShard(shardIndex: number, maxArraySize: number): number {
  return Math.floor(shardIndex / maxArraySize);
}
