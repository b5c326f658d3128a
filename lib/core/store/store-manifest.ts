/**
 * What a store holds: the model whose embeddings fill its images table and their width, recorded
 * once in `<db>/_vista/store` (a conditional object: the first load creates it, nothing overwrites
 * it by accident). A load from another model, or of another width, is refused with
 * STORE_MODEL_MISMATCH (exit 2, `Vista.STORE_MODEL_MISMATCH` in the state machine: a retry would
 * meet the same store) unless it asks for a new table: then the store's tables are dropped and the
 * manifest names the new model. Stores from before the manifest get one on their next load, from
 * a row of their images table.
 */
import { SystemErrorCode, VistaError } from '../errors';
import { joinUri } from '../io/location';
import { ResultColumn } from '../pipeline/schema';
import { conditionalObject } from './conditional-object';
import { type VistaStore, TableName, resolveDbUri } from './connect';
import { storedEmbeddingDim } from './tables';
import { LEASE_FOLDER } from './writer-lease';

export interface StoreManifest {
  model_id: string;
  embedding_dim: number;
  created_at: string;
  /** Set when a load asked for a new table: the model that was replaced. */
  replaced?: { model_id: string; embedding_dim: number; at: string };
}

export interface StoreModel {
  modelId: string;
  embeddingDim: number;
}

export function storeManifestUri(dbUri: string): string {
  return joinUri(resolveDbUri(dbUri), LEASE_FOLDER, 'store');
}

export async function readStoreManifest(dbUri: string): Promise<StoreManifest | undefined> {
  return (await conditionalObject<StoreManifest>(storeManifestUri(dbUri)).read())?.value;
}

/**
 * Makes sure the store holds `model`: records it on a store that has none, refuses another one,
 * or (newTable) drops the tables and records the new model. Call while holding the writer lease.
 */
export async function ensureStoreModel(store: VistaStore, model: StoreModel, options: { newTable?: boolean; shardId: string }): Promise<void> {
  const object = conditionalObject<StoreManifest>(storeManifestUri(store.uri));
  for (;;) {
    const current = await object.read();
    if (!current) {
      const legacy = await legacyModel(store);
      if (legacy && !sameModel(legacy, model) && !options.newTable) throw mismatch(store.uri, legacy, model, options.shardId);
      if (legacy && !sameModel(legacy, model)) await dropTables(store);
      const created = await object.create({ model_id: model.modelId, embedding_dim: model.embeddingDim, created_at: new Date().toISOString() });
      if (created !== undefined) return;
      continue; // another loader recorded it first: compare with theirs
    }
    const held = { modelId: current.value.model_id, embeddingDim: current.value.embedding_dim };
    if (sameModel(held, model)) return;
    if (!options.newTable) throw mismatch(store.uri, held, model, options.shardId);
    await dropTables(store);
    const replaced = await object.replace(
      {
        model_id: model.modelId,
        embedding_dim: model.embeddingDim,
        created_at: new Date().toISOString(),
        replaced: { model_id: held.modelId, embedding_dim: held.embeddingDim, at: new Date().toISOString() },
      },
      current.version,
    );
    if (replaced !== undefined) return;
  }
}

function sameModel(a: StoreModel, b: StoreModel): boolean {
  return a.modelId === b.modelId && a.embeddingDim === b.embeddingDim;
}

function mismatch(uri: string, held: StoreModel, wanted: StoreModel, shardId: string): VistaError {
  return new VistaError(
    SystemErrorCode.STORE_MODEL_MISMATCH,
    `store ${uri} holds ${held.embeddingDim}-d embeddings of model ${held.modelId}; shard ${shardId} has ${wanted.embeddingDim}-d embeddings of ${wanted.modelId}. ` +
      'Load it into another store, or ask for a new table (drops the current rows).',
    { details: { store_model: held.modelId, store_dim: held.embeddingDim, shard_model: wanted.modelId, shard_dim: wanted.embeddingDim, shard_id: shardId } },
  );
}

/** The model of a store written before manifests existed: one row of its images table. */
async function legacyModel(store: VistaStore): Promise<StoreModel | undefined> {
  const images = await store.table(TableName.images);
  if (!images) return undefined;
  const [row] = (await images.query().select([ResultColumn.modelId]).limit(1).toArray()) as Record<string, string>[];
  if (!row) return undefined;
  return { modelId: String(row[ResultColumn.modelId]), embeddingDim: await storedEmbeddingDim(images) };
}

async function dropTables(store: VistaStore): Promise<void> {
  for (const name of Object.values(TableName)) {
    if (!(await store.table(name))) continue;
    store.table(name).then((t) => t?.close()).catch(() => undefined);
    store.forget(name);
    await store.connection.dropTable(name).catch((err: unknown) => {
      if (!/not found|does not exist/i.test(String((err as Error)?.message ?? err))) throw err;
    });
  }
}
