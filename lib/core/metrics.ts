/**
 * CloudWatch embedded metric format (EMF): a JSON log line that CloudWatch Logs turns into
 * metrics, with no agent and no PutMetricData calls from thousands of workers.
 */
import { METRICS_NAMESPACE, type WorkerMetric } from './metrics-names';

export type MetricUnit = 'Count' | 'Count/Second' | 'Milliseconds' | 'Seconds';

export interface MetricEmitter<M extends string = WorkerMetric> {
  emit(metrics: Partial<Record<M, { value: number; unit: MetricUnit }>>, dimensions?: Record<string, string>): void;
}

export function makeEmfEmitter<M extends string = WorkerMetric>(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): MetricEmitter<M> {
  return {
    emit(metrics, dimensions = {}) {
      const names = Object.keys(metrics) as M[];
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

export const noMetrics: MetricEmitter<never> = { emit: () => {} };
