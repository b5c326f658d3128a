/**
 * An in-process S3-compatible server (s3rver) for tests and the demo: 127.0.0.1, a random port, a
 * fresh temp directory. While it runs, the AWS environment points every S3 client of this process
 * at it; stop() restores the environment exactly as it was. One server at a time per process.
 * s3rver is a development dependency: load this module only from tests and `vista demo`.
 */
import { promises as fs } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startConditionalS3Proxy, type ConditionalS3Proxy } from './conditional-s3-proxy';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './fault-s3-proxy';
import { makeS3rverWritesAtomic, type S3rverFilesystemStore } from './s3rver-atomic-writes';
import { CONDITIONAL_WRITES_ENV } from '../store/commit-lock';
import { getS3Client, resetS3Clients } from './s3';

interface S3rverInstance {
  httpServer?: Server;
  store: S3rverFilesystemStore;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;
// s3rver ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverConstructor;

export interface LocalS3 {
  /** http://127.0.0.1:<port>: the endpoint this process's clients use (the fault proxy's when there is one). */
  endpoint: string;
  /** The fault-injecting proxy in front of the server, when started with `faults`. */
  proxy?: FaultProxy;
  /** Creates a bucket (idempotent). */
  createBucket(name: string): Promise<void>;
  /** Creates a bucket (idempotent) and returns its `s3://name` URI. */
  bucket(name: string): Promise<string>;
  stop(): Promise<void>;
}

const ENV: Record<string, string | undefined> = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  // s3rver predates the SDK's default flexible checksums (aws-chunked uploads); only send them when required.
  AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
  AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  // Local runs on Node 20 (the dev machines): the SDK's notice that it will need Node 22 is noise here.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // Anything that could make the SDK look elsewhere for credentials or endpoints.
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_ENDPOINT_URL: undefined,
  AWS_DEFAULT_REGION: undefined,
};

function applyEnv(values: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

export interface StartS3Options {
  /** Put a fault-injecting proxy in front of the server and point the clients at it (see fault-s3-proxy.ts). */
  faults?: Omit<FaultProxyOptions, 'upstream'>;
  /**
   * Enforce conditional PUTs as AWS S3 does (conditional-s3-proxy.ts, between the fault proxy and
   * the server) and declare it (VISTA_S3_CONDITIONAL_WRITES=true), so that no process-wide commit
   * lock hides what concurrent or retried conditional writes do. @default false
   */
  conditionalWrites?: boolean;
}

export async function startS3(options: StartS3Options = {}): Promise<LocalS3> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, resetOnClose: false });
  makeS3rverWritesAtomic(server.store);
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    await fs.rm(directory, { recursive: true, force: true });
    throw err;
  }
  let direct = `http://127.0.0.1:${address.port}`;
  let proxy: FaultProxy | undefined;
  let conditional: ConditionalS3Proxy | undefined;
  try {
    if (options.conditionalWrites) {
      conditional = await startConditionalS3Proxy({ upstream: direct });
      direct = conditional.endpoint;
    }
    proxy = options.faults ? await startFaultProxy({ ...options.faults, upstream: direct }) : undefined;
  } catch (err) {
    await conditional?.stop();
    await server.close().catch(() => undefined);
    await fs.rm(directory, { recursive: true, force: true });
    throw err;
  }
  const endpoint = proxy?.endpoint ?? direct;

  const saved: Record<string, string | undefined> = {};
  for (const key of [...Object.keys(ENV), 'AWS_ENDPOINT_URL_S3', CONDITIONAL_WRITES_ENV]) saved[key] = process.env[key];
  applyEnv({ ...ENV, AWS_ENDPOINT_URL_S3: endpoint, ...(conditional ? { [CONDITIONAL_WRITES_ENV]: 'true' } : {}) });
  resetS3Clients();

  const createBucket = async (name: string): Promise<void> => {
    try {
      await getS3Client().send(new CreateBucketCommand({ Bucket: name }));
    } catch (err) {
      const code = (err as { name?: string }).name;
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
    }
  };

  let stopped = false;
  return {
    endpoint,
    ...(proxy ? { proxy } : {}),
    createBucket,
    async bucket(name: string): Promise<string> {
      await createBucket(name);
      return `s3://${name}`;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      // Destroy the clients first: their keep-alive sockets would otherwise hold close() open.
      resetS3Clients();
      applyEnv(saved);
      await proxy?.stop();
      await conditional?.stop();
      server.httpServer?.closeAllConnections();
      await server.close().catch(() => undefined);
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
