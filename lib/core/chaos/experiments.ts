/**
 * The chaos experiments: each a set of fault rules for the fault-injecting S3 proxy, under which
 * the real worker must lose nothing, double nothing and fail no good image.
 */
import type { FaultRule } from '../io/fault-s3-proxy';

/**
 * What an experiment runs: the worker on a catalog in S3 (the default), the backfill's load step or
 * the real-time ingest into LanceDB on S3 (store-trials.ts), or hostile clients against `vista
 * serve` (serve-trials.ts).
 */
export type ChaosTarget = 'worker' | 'load' | 'ingest' | 'serve';
export type ServeAttack = 'traversal' | 'slow-bodies' | 'memory-bound';

export interface Experiment {
  name: string;
  /** What is injected, in words (the table's "faults" column). */
  faults: string;
  rules: FaultRule[];
  /** @default 'worker' */
  target?: ChaosTarget;
  /** For target `serve`: the hostile clients. */
  attack?: ServeAttack;
}

/** Stalls outlast the per-attempt fetch timeout the chaos run uses, so they end as timeouts. */
export const CHAOS_FETCH_TIMEOUT_MS = 1_500;
const STALL_MS = 2_500;

const MIXED_STORE_RULES: FaultRule[] = [
  { fault: 'slowDown', rate: 0.1 },
  { fault: 'error500', rate: 0.05 },
  { fault: 'reset', rate: 0.05 },
  { fault: 'cutBody', rate: 0.05, operations: ['GetObject'] },
  { fault: 'stall', rate: 0.03, stallMs: STALL_MS },
  { fault: 'lostResponse', rate: 0.05, operations: ['PutObject'] },
];
const MIXED_STORE = 'SlowDown 10%, 500 5%, resets 5%, cut bodies 5%, stalls 3%, lost writes 5% (all requests, LanceDB\'s too)';

/** The same faults for the load step and the real-time ingest. */
function storeExperiments(target: 'load' | 'ingest'): Experiment[] {
  return [
    { target, name: `${target}-slowdown-30`, faults: '503 SlowDown on 30% of all requests (LanceDB\'s too)', rules: [{ fault: 'slowDown', rate: 0.3 }] },
    { target, name: `${target}-lost-writes-20`, faults: 'response lost after the write on 20% of PUTs (LanceDB commits too)', rules: [{ fault: 'lostResponse', rate: 0.2, operations: ['PutObject'] }] },
    { target, name: `${target}-mixed`, faults: MIXED_STORE, rules: MIXED_STORE_RULES },
  ];
}

export const EXPERIMENTS: Experiment[] = [
  { name: 'baseline', faults: 'none', rules: [] },
  { name: 'slowdown-30', faults: '503 SlowDown on 30% of image GETs', rules: [{ fault: 'slowDown', rate: 0.3, operations: ['GetObject'] }] },
  { name: 'error500-20', faults: '500 InternalError on 20% of all requests', rules: [{ fault: 'error500', rate: 0.2 }] },
  { name: 'resets-15', faults: 'connection reset on 15% of all requests', rules: [{ fault: 'reset', rate: 0.15 }] },
  { name: 'cut-bodies-20', faults: 'body cut off half way on 20% of GETs', rules: [{ fault: 'cutBody', rate: 0.2, operations: ['GetObject'] }] },
  {
    name: 'stalls-10',
    faults: `${STALL_MS / 1000} s stall on 10% of image GETs (timeout ${CHAOS_FETCH_TIMEOUT_MS / 1000} s)`,
    rules: [{ fault: 'stall', rate: 0.1, operations: ['GetObject'], keys: /^images\//, stallMs: STALL_MS }],
  },
  {
    name: 'lost-writes-20',
    faults: 'response lost after the write on 20% of PUTs',
    rules: [{ fault: 'lostResponse', rate: 0.2, operations: ['PutObject'] }],
  },
  {
    name: 'mixed',
    faults: 'SlowDown 10%, 500 5%, resets 5%, cut bodies 5%, stalls 3%, lost writes 5%',
    rules: [
      { fault: 'slowDown', rate: 0.1 },
      { fault: 'error500', rate: 0.05 },
      { fault: 'reset', rate: 0.05 },
      { fault: 'cutBody', rate: 0.05, operations: ['GetObject'] },
      { fault: 'stall', rate: 0.03, operations: ['GetObject'], keys: /^images\//, stallMs: STALL_MS },
      { fault: 'lostResponse', rate: 0.05, operations: ['PutObject'] },
    ],
  },
  ...storeExperiments('load'),
  ...storeExperiments('ingest'),
  { target: 'serve', attack: 'traversal', name: 'serve-traversal', faults: 'file:// allow-list: dot segments in 9 spellings, symlinks out, missing files', rules: [] },
  { target: 'serve', attack: 'slow-bodies', name: 'serve-slow-bodies', faults: '64 clients sending a body byte every 200 ms, next to 8 legitimate requests', rules: [] },
  { target: 'serve', attack: 'memory-bound', name: 'serve-memory-bound', faults: '24 bodies of 1.5 MiB at once against a 6 MiB budget', rules: [] },
];
