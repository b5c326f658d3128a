/** The LanceDB store: loading worker output, building indexes, searching. */
export { openStore, storageOptionsFor, TableName, type VistaStore, type StoreOptions } from './connect';
export { loadShardResults, type LoadShardOptions, type LoadShardResult, type LoadProgress } from './loader';
export { ShardIncompleteError } from './shard-results';
export { buildIndexes, type BuildIndexesOptions, type IndexReport } from './indexer';
export * from './search';
