/**
 * CloudWatch embedded metric format (EMF): a JSON log line that CloudWatch Logs turns into
 * metrics, with no agent and no PutMetricData calls from thousands of workers.
 */
import { METRICS_NAMESPACE, WorkerMetric } from './metrics-names';

export type MetricUnit = 'Count' | 'Count/Second' | 'Milliseconds';

export interface MetricEmitter {
  emit(metrics: Partial<Record<WorkerMetric, { value: number; unit: MetricUnit }>>, dimensions?: Record<string, string>): void;
}

export function makeEmfEmitter(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): MetricEmitter {
  return {
    emit(metrics, dimensions = {}) {
      const names = Object.keys(metrics) as WorkerMetric[];
      if (names.length === 0) return;
      const record: Record<string, unknown> = {
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: METRICS_NAMESPACE,
              Dimensions: [Object.keys(dimensions)],
              Metrics: names.map((n) => ({ Name: n, Unit: metrics[n]!.unit })),
            },
          ],
        },
        ...dimensions,
      };
      for (const n of names) record[n] = metrics[n]!.value;
      write(JSON.stringify(record));
    },
  };
}

export const noMetrics: MetricEmitter = { emit: () => {} };
