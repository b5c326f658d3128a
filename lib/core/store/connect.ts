/**
 * Opens the LanceDB database that holds Vista's tables, in a local folder or under an s3:// prefix.
 * LanceDB talks to S3 through its own Rust object store, not the AWS SDK, so the endpoint override
 * and credentials that lib/core/io/s3.ts reads from the environment are translated here into
 * LanceDB storage options: the same AWS_ENDPOINT_URL_S3 then points both at one S3-compatible server.
 */
import * as lancedb from '@lancedb/lancedb';
import { SystemErrorCode, VistaError } from '../errors';
import { toLocalPath } from '../io/location';
import { isS3Uri } from '../io/s3';
import { announceProcessCommitLock, needsProcessCommitLock, serialized } from './commit-lock';
import { isCommitConflict, withStoreRetry } from './commit-retry';

export const TableName = {
  /** One row per enriched image. */
  images: 'images',
  /** One row per image that failed, so that nothing is silently dropped. */
  imageErrors: 'image_errors',
  /** Load attempts and completed loads per shard: what makes loading idempotent. */
  loadLedger: 'load_ledger',
} as const;
export type TableName = (typeof TableName)[keyof typeof TableName];

export interface StoreOptions {
  /**
   * How stale a read may be, in seconds: 0 checks for other writers' commits on every read (the
   * loader needs that), larger values save a round trip per query. @default 5
   */
  readConsistencySeconds?: number;
}

export interface VistaStore {
  readonly uri: string;
  readonly connection: lancedb.Connection;
  /** The table if it exists (handles are cached: they hold index caches). */
  table(name: TableName): Promise<lancedb.Table | undefined>;
  /** Forgets cached handles, e.g. after another handle created the table. */
  forget(name: TableName): void;
  /**
   * Every write of a table goes through here: retried on commit conflicts, and serialized per
   * table in this process where the object store cannot arbitrate concurrent commits (commit-lock.ts).
   */
  commit<T>(name: TableName, what: string, op: () => Promise<T>, retryable?: (err: unknown) => boolean): Promise<T>;
  close(): void;
}

/**
 * Retries of LanceDB's own S3 client. Lance's default of 3 retries (object_store's backoff: 100 ms
 * doubling, 180 s budget) let a load fail under sustained 503 SlowDown: with 30% of requests
 * throttled, one of the ~100 listings of a load runs out of retries (seen through the fault proxy,
 * docs/reliability.md). 10 is object_store's own default and what the AWS SDK clients get
 * (io/s3.ts); the 180 s budget still bounds a request that keeps failing.
 */
export const LANCE_S3_RETRY = { client_max_retries: '10', client_retry_timeout: '180' } as const;

/** LanceDB storage options for an s3:// database, from the same environment the AWS SDK reads. */
export function storageOptionsFor(dbUri: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  if (!isS3Uri(dbUri)) return undefined;
  const options: Record<string, string> = { ...LANCE_S3_RETRY };
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (region) options.aws_region = region;
  if (env.AWS_ACCESS_KEY_ID) options.aws_access_key_id = env.AWS_ACCESS_KEY_ID;
  if (env.AWS_SECRET_ACCESS_KEY) options.aws_secret_access_key = env.AWS_SECRET_ACCESS_KEY;
  if (env.AWS_SESSION_TOKEN) options.aws_session_token = env.AWS_SESSION_TOKEN;
  // Same precedence as lib/core/io/s3.ts s3Endpoint().
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  if (endpoint) {
    options.aws_endpoint = endpoint;
    // Local S3-compatible servers serve plain http and only path-style URLs.
    options.aws_virtual_hosted_style_request = 'false';
    if (endpoint.startsWith('http://')) options.allow_http = 'true';
  }
  return options;
}

/** The URI LanceDB should see: s3:// as is, anything else as an absolute local path. */
export function resolveDbUri(dbUri: string): string {
  return isS3Uri(dbUri) ? dbUri.replace(/\/+$/, '') : toLocalPath(dbUri);
}

function isTableMissing(err: unknown): boolean {
  const message = String((err as { message?: unknown } | null)?.message ?? err);
  return /not found|does not exist/i.test(message) && !/could not be loaded/i.test(message);
}

export async function openStore(dbUri: string, options: StoreOptions = {}): Promise<VistaStore> {
  const uri = resolveDbUri(dbUri);
  let connection: lancedb.Connection;
  try {
    connection = await lancedb.connect(uri, {
      storageOptions: storageOptionsFor(uri),
      readConsistencyInterval: options.readConsistencySeconds ?? 5,
    });
  } catch (err) {
    throw new VistaError(SystemErrorCode.STORE_FAILED, `cannot open LanceDB at ${uri}: ${(err as Error).message}`, { cause: err });
  }
  const tables = new Map<TableName, lancedb.Table>();
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
  const lock = needsProcessCommitLock(uri, endpoint);
  if (lock) announceProcessCommitLock(uri, endpoint);
  return {
    uri,
    connection,
    async table(name) {
      const cached = tables.get(name);
      if (cached) return cached;
      // Opened directly rather than looked up in tableNames(): listing is a round trip on S3, and
      // some S3-compatible servers (s3rver) list no prefixes at all.
      let table: lancedb.Table;
      try {
        table = await connection.openTable(name);
      } catch (err) {
        if (isTableMissing(err)) return undefined;
        throw err;
      }
      tables.set(name, table);
      return table;
    },
    forget(name) {
      tables.delete(name);
    },
    commit(name, what, op, retryable = isCommitConflict) {
      const attempt = () => withStoreRetry(what, op, retryable);
      return lock ? serialized(`${uri}/${name}`, attempt) : attempt();
    },
    close() {
      for (const table of tables.values()) table.close();
      tables.clear();
      connection.close();
    },
  };
}
