/**
 * Collects outcomes per part and writes a part as soon as every one of its entries is
 * accounted for. Parts finish out of order (a slow fetch holds back only its own part), and
 * only unfinished parts stay in memory.
 */
import type { EnrichedImage, ImageFailure } from '../types';
import type { PartMarker, PartStamp, ShardOutput } from './shard-output';

interface OpenPart {
  firstIndex: number;
  inputs: number;
  sealed: boolean;
  rows: EnrichedImage[];
  failures: ImageFailure[];
}

export class PartTracker {
  private readonly open = new Map<number, OpenPart>();
  private readonly writes: Promise<void>[] = [];
  private writeError: unknown;
  private aborted = false;
  readonly written: PartMarker[] = [];

  constructor(
    private readonly output: ShardOutput,
    private readonly stamp: PartStamp,
    private readonly onPartWritten: (marker: PartMarker) => void = () => {},
  ) {}

  addInput(part: number, index: number): void {
    const p = this.open.get(part);
    if (p) p.inputs++;
    else this.open.set(part, { firstIndex: index, inputs: 1, sealed: false, rows: [], failures: [] });
  }

  /** No more inputs will be added to this part. */
  seal(part: number): void {
    const p = this.open.get(part);
    if (!p) return;
    p.sealed = true;
    this.flushIfComplete(part, p);
  }

  addRow(part: number, row: EnrichedImage): void {
    const p = this.open.get(part)!;
    p.rows.push(row);
    this.flushIfComplete(part, p);
  }

  addFailure(part: number, failure: ImageFailure): void {
    const p = this.open.get(part)!;
    p.failures.push(failure);
    this.flushIfComplete(part, p);
  }

  /** Waits for every part write; rethrows the first write failure (a system error). */
  async drain(): Promise<void> {
    await Promise.all(this.writes);
    if (this.writeError) throw this.writeError;
    const unfinished = [...this.open.keys()];
    if (unfinished.length) throw new Error(`parts never completed: ${unfinished.join(', ')}`);
  }

  /**
   * The run is failing: write no further part. A part is only written when all of its entries
   * really were processed; one whose images were lost to the failure must be redone on resume.
   */
  abort(): void {
    this.aborted = true;
  }

  /** Waits for writes already started, ignoring their outcome (used on the failure path). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.writes);
  }

  get hasWriteError(): boolean {
    return this.writeError !== undefined;
  }

  private flushIfComplete(part: number, p: OpenPart): void {
    if (this.aborted || !p.sealed || p.rows.length + p.failures.length < p.inputs) return;
    this.open.delete(part);
    const write = this.output.writePart(part, p.firstIndex, p.rows, p.failures, this.stamp).then(
      (marker) => {
        this.written.push(marker);
        this.onPartWritten(marker);
      },
      (err) => {
        this.writeError ??= err;
      },
    );
    this.writes.push(write);
  }
}
