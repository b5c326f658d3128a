/**
 * One writer per store: a lease object beside the tables (`<db>/_vista/writer-lease`) names the
 * writer that owns the store — a backfill run (its run id), the real-time ingest, an index build —
 * and who within it holds the lease now, each holder with an expiry that it renews while it works.
 * Every operation that writes the store takes it (loadShardResults, buildIndexes, supersede):
 *
 *   - free (no holder, or every holder expired)  → this writer takes it;
 *   - the same writer holds it                   → this operation joins (a run's shard loads run
 *                                                  side by side: they never conflict, docs/store.md);
 *   - another writer holds it                    → wait, polling, up to `waitMs`, then fail with
 *                                                  STORE_BUSY naming the holder (waitMs 0: at once).
 *
 * Both are logged with the holder's writer id (the run id). A holder renews every ttl/3; a crashed
 * holder stops renewing and its entry expires after `ttlMs`. Every change is a compare-and-swap of
 * the lease object (conditional-object.ts: S3 If-None-Match / If-Match, or atomic links in a local
 * folder), so two writers can never both believe they hold it. A holder that finds its lease
 * taken over (it stalled past its expiry) fails its operation with STORE_BUSY once it is done, so
 * the step is retried rather than reported as a clean success.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemErrorCode, VistaError } from '../errors';
import { joinUri } from '../io/location';
import { type Logger, makeLogger } from '../log';
import { type ConditionalObject, conditionalObject } from './conditional-object';
import { resolveDbUri } from './connect';

export const LEASE_FOLDER = '_vista';
export const LEASE_OBJECT = 'writer-lease';

export interface LeaseHolder {
  /** One operation of the writer (random). */
  id: string;
  host: string;
  /** What it is doing, e.g. `load run-1/shard-00003`. */
  operation: string;
  expires_at: string;
}

export interface LeaseRecord {
  /** The writer that owns the store: a run id, `realtime`, `indexer`. */
  writer: string;
  holders: LeaseHolder[];
  updated_at: string;
}

export interface WriterLeaseOptions {
  /** The writer this operation belongs to (a backfill's run id). */
  writer: string;
  /** What the operation does, for the logs and the lease object. */
  operation: string;
  /** A holder that stops renewing is gone after this long. @default DEFAULT_LEASE_TTL_MS */
  ttlMs?: number;
  /** How long to wait for another writer to finish; 0 fails at once. @default from VISTA_STORE_LEASE_WAIT_SECONDS, else 300 s */
  waitMs?: number;
  /** Between looks at a lease another writer holds. @default 1000 */
  pollMs?: number;
  logger?: Logger;
}

export const DEFAULT_LEASE_TTL_MS = 60_000;
export const LEASE_WAIT_ENV = 'VISTA_STORE_LEASE_WAIT_SECONDS';
const DEFAULT_WAIT_MS = 300_000;

export function leaseUri(dbUri: string): string {
  return joinUri(resolveDbUri(dbUri), LEASE_FOLDER, LEASE_OBJECT);
}

function defaultWaitMs(): number {
  const raw = process.env[LEASE_WAIT_ENV];
  const seconds = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_WAIT_MS;
}

const live = (record: LeaseRecord | undefined, now: number) => (record?.holders ?? []).filter((h) => Date.parse(h.expires_at) > now);

/** The lease as it stands (tests, `status` tooling). */
export async function readWriterLease(dbUri: string): Promise<LeaseRecord | undefined> {
  return (await conditionalObject<LeaseRecord>(leaseUri(dbUri)).read())?.value;
}

/** Runs `op` holding the store's writer lease (see the module comment). */
export async function withWriterLease<T>(dbUri: string, options: WriterLeaseOptions, op: () => Promise<T>): Promise<T> {
  const lease = conditionalObject<LeaseRecord>(leaseUri(dbUri));
  const logger = options.logger ?? makeLogger();
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const me: Omit<LeaseHolder, 'expires_at'> = { id: randomBytes(6).toString('hex'), host: hostname(), operation: options.operation };
  const fields = { db: dbUri, writer: options.writer, operation: options.operation };

  await acquire(lease, options, me, ttlMs, logger, fields);
  let lost: LeaseRecord | undefined;
  let renewing = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(async () => {
      if (lost) return;
      try {
        const outcome = await update(lease, (record) => {
          // Another writer took it at some point (ours had expired): exclusivity was lost, even if
          // that writer is done by now. Our own entry expired while our writer kept it: rejoin.
          if (record?.writer !== options.writer) return 'lost';
          return withHolder(record, options.writer, me, ttlMs);
        });
        if (outcome !== 'done') lost = outcome;
      } catch (err) {
        // A storage hiccup: the next renewal tries again, well before the expiry (ttl/3 apart).
        logger.warn('store writer lease: renewal failed', { ...fields, error: (err as Error).message });
      }
    });
  }, Math.max(10, Math.floor(ttlMs / 3)));
  timer.unref?.();
  try {
    return await op();
  } finally {
    clearInterval(timer);
    await renewing;
    await update(lease, (record) => (record?.writer === options.writer ? without(record, me.id) : 'unchanged')).catch((err) =>
      logger.warn('store writer lease: release failed (it expires on its own)', { ...fields, error: (err as Error).message }),
    );
    if (lost) {
      logger.error('store writer lease lost while working: another writer took over after it expired', { ...fields, holder: lost.writer });
      // eslint-disable-next-line no-unsafe-finally
      throw busy(`the writer lease of ${dbUri} was taken over by ${lost.writer} while ${options.operation} ran (renewals stalled past ${ttlMs} ms)`, lost, options.writer);
    }
  }
}

function busy(message: string, record: LeaseRecord, writer: string): VistaError {
  return new VistaError(SystemErrorCode.STORE_BUSY, message, {
    details: { holder: record.writer, writer, holders: record.holders.map((h) => ({ host: h.host, operation: h.operation, expires_at: h.expires_at })) },
  });
}

function withHolder(record: LeaseRecord | undefined, writer: string, me: Omit<LeaseHolder, 'expires_at'>, ttlMs: number): LeaseRecord {
  const now = Date.now();
  const others = record?.writer === writer ? live(record, now).filter((h) => h.id !== me.id) : [];
  return { writer, holders: [...others, { ...me, expires_at: new Date(now + ttlMs).toISOString() }], updated_at: new Date(now).toISOString() };
}

function without(record: LeaseRecord, id: string): LeaseRecord {
  return { ...record, holders: live(record, Date.now()).filter((h) => h.id !== id), updated_at: new Date().toISOString() };
}

type Change = LeaseRecord | 'unchanged' | 'lost';

/** Applies `change` to the current lease by compare-and-swap, re-reading after every lost race. */
async function update(lease: ConditionalObject<LeaseRecord>, change: (record: LeaseRecord | undefined) => Change): Promise<'done' | LeaseRecord> {
  for (let attempt = 0; ; attempt++) {
    const current = await lease.read();
    const next = change(current?.value);
    if (next === 'unchanged') return 'done';
    if (next === 'lost') return current!.value;
    const written = current ? await lease.replace(next, current.version) : await lease.create(next);
    if (written !== undefined) return 'done';
    // Lost a race with another holder's write: look again (briefly spread out under contention).
    await sleep(Math.floor(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6))));
  }
}

async function acquire(
  lease: ConditionalObject<LeaseRecord>,
  options: WriterLeaseOptions,
  me: Omit<LeaseHolder, 'expires_at'>,
  ttlMs: number,
  logger: Logger,
  fields: Record<string, unknown>,
): Promise<void> {
  const waitMs = options.waitMs ?? defaultWaitMs();
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    const outcome = await update(lease, (record) => {
      const holders = live(record, Date.now());
      if (record && holders.length > 0 && record.writer !== options.writer) return 'lost';
      return withHolder(record, options.writer, me, ttlMs);
    });
    if (outcome === 'done') {
      if (announced) logger.info('store writer lease taken after waiting', fields);
      return;
    }
    const holders = live(outcome, Date.now());
    const until = holders.map((h) => h.expires_at).sort().at(-1);
    if (Date.now() >= deadline) {
      logger.warn('store busy: another writer holds the lease', { ...fields, holder: outcome.writer, holder_operations: holders.map((h) => h.operation), held_until: until, waited_ms: waitMs });
      throw busy(
        `store ${String(fields.db)} is busy: writer ${outcome.writer} holds its lease (${holders.map((h) => h.operation).join(', ')}, renewed until ${until})` +
          (waitMs > 0 ? `; waited ${Math.round(waitMs / 1000)} s` : ''),
        outcome,
        options.writer,
      );
    }
    if (!announced) {
      announced = true;
      logger.warn('store busy: waiting for another writer to release the lease', { ...fields, holder: outcome.writer, holder_operations: holders.map((h) => h.operation), held_until: until, wait_ms: waitMs });
    }
    await sleep(Math.min(options.pollMs ?? 1_000, Math.max(1, deadline - Date.now())));
  }
}
