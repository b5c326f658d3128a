/**
 * AWS Batch on one machine, for the local runner: a `batch:submitJob.sync` task becomes local
 * processes, an array job N worker processes (`vista worker --from-env`, the container's
 * command, or the overridden one) pulling array indexes from a queue, each with the container
 * overrides and AWS_BATCH_JOB_ARRAY_INDEX set as Batch would.
 * The result has the shape of Batch's DescribeJobs, and a failed array fails the task with
 * `States.TaskFailed` and that description as its cause, as Step Functions reports it, so the
 * definition's Catch and the report handle both the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { makeLimiter, mapWithConcurrency } from '../io/concurrency';
import { EXIT_PERMANENT } from '../exit-codes';
import type { FailedChild } from './batch-children';

const submitJobSchema = z.object({
  JobName: z.string(),
  JobQueue: z.string(),
  JobDefinition: z.string(),
  ArrayProperties: z.object({ Size: z.number().int().min(2).max(10_000) }).optional(),
  ContainerOverrides: z
    .object({ Command: z.array(z.string()).min(1).optional(), Environment: z.array(z.object({ Name: z.string(), Value: z.string() })).optional() })
    .optional(),
  RetryStrategy: z.object({ Attempts: z.number().int().min(1).max(10) }).optional(),
});

export interface ChildCommand {
  command: string;
  args: string[];
}

export interface LocalBatchOptions {
  /** Children running at once, across all jobs (waves run side by side share them, as they share a queue's instances). */
  workers: number;
  /** Folder for one log file per child (stdout and stderr). */
  logDir: string;
  /** Attempts per child when the submitted job does not set RetryStrategy. @default 1 */
  attempts?: number;
  /** What a child runs when the job does not override the command. @default node bin/vista.js worker --from-env */
  commandFor?: (index: number) => ChildCommand;
  /** Base environment of the children. @default process.env */
  env?: NodeJS.ProcessEnv;
  onChild?: (event: { job: string; index: number; attempt: number; status: 'started' | 'succeeded' | 'failed'; exitCode?: number }) => void;
}

export interface LocalBatch {
  /** The task binding: SubmitJob parameters in, DescribeJobs-shaped job out (or thrown). */
  submitJobSync(parameters: unknown): Promise<Record<string, unknown>>;
  /** What the report asks Batch about failed children. */
  listFailedChildren(arrayJobId: string): Promise<FailedChild[]>;
  /** Kills running children (Ctrl-C). */
  stop(): void;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const EXIT_WITH_PARENT = path.join(__dirname, 'exit-with-parent.js');

/**
 * Node children watch the pipe on their stdin and exit when this process dies, even by SIGKILL
 * (exit-with-parent.js, preloaded through NODE_OPTIONS).
 */
function exitWithParentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, VISTA_EXIT_WITH_PARENT: '1', NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --require "${EXIT_WITH_PARENT}"`.trim() };
}
const VISTA_BIN = path.join(REPO_ROOT, 'bin', 'vista.js');

export const defaultWorkerCommand = (): ChildCommand => ({ command: process.execPath, args: [VISTA_BIN, 'worker', '--from-env'] });

export function makeLocalBatch(options: LocalBatchOptions): LocalBatch {
  const commandFor = options.commandFor ?? defaultWorkerCommand;
  const running = new Set<ChildProcess>();
  const failuresByJob = new Map<string, FailedChild[]>();
  const slots = makeLimiter(Math.max(1, options.workers));
  let stopped = false;

  /** The container's working directory is the repository root, so its relative paths work here too. */
  const runChild = async (job: string, run: ChildCommand, env: NodeJS.ProcessEnv, index: number, attempt: number, logFile: string): Promise<number> => {
    const { command, args } = run;
    await fs.mkdir(path.dirname(logFile), { recursive: true });
    const log = createWriteStream(logFile, { flags: attempt === 1 ? 'w' : 'a' });
    await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
    options.onChild?.({ job, index, attempt, status: 'started' });
    const child = spawn(command, args, { env: exitWithParentEnv(env), cwd: REPO_ROOT, stdio: ['pipe', log, log] });
    running.add(child);
    const exitCode = await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        log.write(`cannot start ${command}: ${err.message}\n`);
        resolve(127);
      });
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
    running.delete(child);
    await new Promise<void>((resolve) => log.end(resolve));
    return exitCode;
  };

  return {
    async submitJobSync(parameters) {
      const job = submitJobSchema.parse(parameters);
      const jobId = randomUUID();
      const size = job.ArrayProperties?.Size ?? 1;
      const attempts = job.RetryStrategy?.Attempts ?? options.attempts ?? 1;
      const overrides = Object.fromEntries((job.ContainerOverrides?.Environment ?? []).map((e) => [e.Name, e.Value]));
      const override = job.ContainerOverrides?.Command;
      const commandOf = (index: number): ChildCommand =>
        override ? { command: override[0] === 'node' ? process.execPath : override[0], args: override.slice(1) } : commandFor(index);
      const createdAt = Date.now();
      const failed: FailedChild[] = [];
      const parallel = Math.max(1, Math.min(options.workers, size));
      // N workers on one machine share its cores, as N containers would share an instance.
      const threads = String(Math.max(1, Math.floor(os.availableParallelism() / parallel)));

      await mapWithConcurrency(
        Array.from({ length: size }, (_, i) => i),
        parallel,
        async (index) => {
          const logName = job.ArrayProperties ? `${job.JobName}-child-${String(index).padStart(5, '0')}` : job.JobName;
          const logFile = path.join(options.logDir, `${logName}.log`);
          let exitCode = 0;
          for (let attempt = 1; attempt <= attempts && !stopped; attempt++) {
            const env = {
              VISTA_THREADS: threads,
              ...(options.env ?? process.env),
              ...overrides,
              AWS_BATCH_JOB_ID: job.ArrayProperties ? `${jobId}:${index}` : jobId,
              ...(job.ArrayProperties ? { AWS_BATCH_JOB_ARRAY_INDEX: String(index) } : {}),
              AWS_BATCH_JOB_ATTEMPT: String(attempt),
            };
            exitCode = await slots(() => (stopped ? Promise.resolve(128) : runChild(job.JobName, commandOf(index), env, index, attempt, logFile)));
            options.onChild?.({ job: job.JobName, index, attempt, status: exitCode === 0 ? 'succeeded' : 'failed', exitCode });
            if (exitCode === 0) return;
            if (exitCode === EXIT_PERMANENT) break; // as the job definition's retry strategy: bad config is not retried
          }
          failed.push({ index, exitCode, reason: stopped ? 'stopped' : await lastLogLines(logFile), logs: logFile });
        },
      );

      failuresByJob.set(jobId, failed.sort((a, b) => a.index - b.index));
      const description = {
        JobArn: `arn:aws:batch:local:000000000000:job/${jobId}`,
        JobId: jobId,
        JobName: job.JobName,
        JobQueue: job.JobQueue,
        JobDefinition: job.JobDefinition,
        Status: failed.length === 0 ? 'SUCCEEDED' : 'FAILED',
        ...(failed.length > 0 ? { StatusReason: job.ArrayProperties ? 'Array Child Job failed' : `Essential container in task exited: ${failed[0].reason}` } : {}),
        ...(job.ArrayProperties ? { ArrayProperties: { Size: size, StatusSummary: { SUCCEEDED: size - failed.length, FAILED: failed.length } } } : {}),
        CreatedAt: createdAt,
        StartedAt: createdAt,
        StoppedAt: Date.now(),
      };
      if (failed.length === 0) return description;
      throw Object.assign(new Error(JSON.stringify(description)), { name: 'States.TaskFailed' });
    },
    async listFailedChildren(arrayJobId) {
      return failuresByJob.get(arrayJobId) ?? [];
    },
    stop() {
      stopped = true;
      for (const child of running) child.kill('SIGTERM');
    },
  };
}

/** The end of a child's log, for the report: JSON log lines are reduced to their level and message. */
async function lastLogLines(logFile: string, count = 3): Promise<string> {
  let text = '';
  try {
    text = await fs.readFile(logFile, 'utf8');
  } catch {
    return 'no log';
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '').slice(-count);
  const readable = lines.map((line) => {
    try {
      const entry = JSON.parse(line) as { level?: string; message?: string };
      return entry.message ? `${entry.level ?? ''} ${entry.message}`.trim() : line;
    } catch {
      return line;
    }
  });
  return readable.join(' | ').slice(0, 600) || 'exited without output';
}
