/**
 * The chaos experiments: each a set of fault rules for the fault-injecting S3 proxy, under which
 * the real worker must lose nothing, double nothing and fail no good image.
 */
import type { FaultRule } from '../io/fault-s3-proxy';

export interface Experiment {
  name: string;
  /** What is injected, in words (the table's "faults" column). */
  faults: string;
  rules: FaultRule[];
}

/** Stalls outlast the per-attempt fetch timeout the chaos run uses, so they end as timeouts. */
export const CHAOS_FETCH_TIMEOUT_MS = 1_500;
const STALL_MS = 2_500;

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
];
