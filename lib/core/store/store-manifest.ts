/**
 * What a store holds: the model whose embeddings fill its images table and their width, recorded
 * once in `<db>/_vista/store` (a conditional object: the first load creates it, nothing overwrites
 * it by accident). A load from another model, or of another width, is refused with
 * STORE_MODEL_MISMATCH (exit 2, `Vista.STORE_MODEL_MISMATCH` in the state machine: a retry would
 * meet the same store) unless it asks for a new table: then the store's tables are dropped and the
 * manifest names the new model. Loads of one run go side by side and all ask for the new table:
 * the one that wins the manifest's compare-and-swap drops the tables while the others wait. Stores from before the manifest get one on their next load, from
 * a row of their images table.
 */
import { setTimeout as sleep } from 'node:timers/promises';
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
  /**
   * Set while the load that won the replacement drops the old tables: every other load waits, so
   * none appends to a table about to be dropped, and none drops tables another has filled.
   */
  dropping_since?: string;
}

/** A replacement left `dropping` this long (its load crashed mid-drop) is finished by the next load. */
export const DROP_TAKEOVER_MS = 5 * 60_000;
const DROP_POLL_MS = 200;

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
export async function ensureStoreModel(store: VistaStore, model: StoreModel, options: { newTable?: boolean; shardId: string; pollMs?: number }): Promise<void> {
  const object = conditionalObject<StoreManifest>(storeManifestUri(store.uri));
  const recorded = (): StoreManifest => ({ model_id: model.modelId, embedding_dim: model.embeddingDim, created_at: new Date().toISOString() });
  // The claim of a replacement: the new model, the old one, and the mark that a drop is under way.
  const claim = (old: StoreModel): StoreManifest => {
    const at = new Date().toISOString();
    return { ...recorded(), replaced: { model_id: old.modelId, embedding_dim: old.embeddingDim, at }, dropping_since: at };
  };
  // Only the load whose compare-and-swap put `dropping_since` drops; then it clears the mark.
  const dropAndFinish = async (claimed: StoreManifest, version: string) => {
    await dropTables(store);
    const { dropping_since: _, ...ready } = claimed;
    return (await object.replace(ready, version)) !== undefined;
  };
  for (;;) {
    const current = await object.read();
    if (!current) {
      const legacy = await legacyModel(store);
      const replacing = legacy !== undefined && !sameModel(legacy, model);
      if (replacing && !options.newTable) throw mismatch(store.uri, legacy, model, options.shardId);
      const first = replacing ? claim(legacy) : recorded();
      const created = await object.create(first);
      if (created === undefined) continue; // another loader recorded it first: compare with theirs
      if (!replacing || (await dropAndFinish(first, created))) return;
      continue;
    }
    const held = current.value;
    if (held.dropping_since !== undefined) {
      if (dropUnderWay(held)) {
        await sleep(options.pollMs ?? DROP_POLL_MS);
        continue;
      }
      // Its load died mid-drop: take the drop over (one taker, by compare-and-swap), then decide again.
      const retaken = { ...held, dropping_since: new Date().toISOString() };
      const version = await object.replace(retaken, current.version);
      if (version !== undefined) await dropAndFinish(retaken, version);
      continue;
    }
    const heldModel = { modelId: held.model_id, embeddingDim: held.embedding_dim };
    if (sameModel(heldModel, model)) return;
    if (!options.newTable) throw mismatch(store.uri, heldModel, model, options.shardId);
    const claimed = claim(heldModel);
    const version = await object.replace(claimed, current.version);
    if (version !== undefined && (await dropAndFinish(claimed, version))) return;
  }
}

/** For loads that hold no embeddings (failures only): wait while another load drops the tables for a new model. */
export async function waitWhileTablesDrop(store: VistaStore): Promise<void> {
  const object = conditionalObject<StoreManifest>(storeManifestUri(store.uri));
  for (;;) {
    const held = (await object.read())?.value;
    if (!held || !dropUnderWay(held)) return;
    await sleep(DROP_POLL_MS);
  }
}

/** A drop is marked, and recent enough that its load is taken to be alive. */
function dropUnderWay(manifest: StoreManifest): boolean {
  return manifest.dropping_since !== undefined && Date.now() - Date.parse(manifest.dropping_since) < DROP_TAKEOVER_MS;
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
