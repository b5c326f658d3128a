/**
 * `inferenceClientFromEnv`, what the deployed API and upload Lambdas call, with the real
 * @aws-sdk/client-sagemaker-runtime client sent (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) to a local
 * stand-in for SageMaker Runtime that forwards to a real `vista serve` (tiny model): the request
 * SageMaker gets, a 200 answer, a container error passed through as ModelError, service errors.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SystemErrorCode, VistaError } from '../../lib/core/errors';
import { silentLogger } from '../../lib/core/log';
import { createWorker, type Worker } from '../../lib/core/pipeline/worker';
import { parseWorkerConfig } from '../../lib/core/pipeline/worker-config';
import { makeEnrichService } from '../../lib/core/serving/enrich-service';
import { type InferenceServer, startInferenceServer } from '../../lib/core/serving/http-server';
import { inferenceClientFromEnv } from '../../lib/core/serving/inference-client';
import type { EnrichErrorBody, EnrichResult } from '../../lib/core/serving/protocol';
import { REALTIME_LAMBDA_ENV } from '../../lib/core/serving/serving-env';
import { writeFixtureImages, type FixtureImage } from '../support/fixtures';
import { TINY_MODEL_DIR } from '../support/models';
import { type FakeSageMakerRuntime, startFakeSageMakerRuntime } from '../support/sagemaker-endpoint';

const ENDPOINT = 'vista-realtime-test';
// What the SDK reads from the environment, as in the Lambda (credentials, region) plus the override.
const SDK_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDLOCALTEST',
  AWS_SECRET_ACCESS_KEY: 'local-secret',
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_MAX_ATTEMPTS: '3',
  AWS_RETRY_MODE: 'standard',
};

let tmp: string;
let worker: Worker;
let server: InferenceServer;
let sagemaker: FakeSageMakerRuntime;
let fixtures: FixtureImage[];
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-smr-'));
  fixtures = await writeFixtureImages(path.join(tmp, 'images'));
  worker = await createWorker(parseWorkerConfig({ model: TINY_MODEL_DIR, artifacts: path.join(tmp, 'artifacts') }), silentLogger);
  server = await startInferenceServer(makeEnrichService(worker, { allowedUriPrefixes: ['s3://'] }), { port: 0, host: '127.0.0.1' });
  sagemaker = await startFakeSageMakerRuntime({ [ENDPOINT]: server.url });
  const env = { ...SDK_ENV, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: sagemaker.url };
  for (const [name, value] of Object.entries(env)) {
    saved[name] = process.env[name];
    if (value === '') delete process.env[name];
    else process.env[name] = value;
  }
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await sagemaker?.close();
  await server?.close();
  await worker?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  sagemaker.invocations.length = 0;
  sagemaker.failWith(undefined);
});

const photo = async (name: string) => (await fs.readFile(fixtures.find((f) => f.name === name)!.path)).toString('base64');
const lambdaEnv = (endpoint = ENDPOINT) => ({ [REALTIME_LAMBDA_ENV.endpointName]: endpoint });

describe('inferenceClientFromEnv → SageMaker Runtime (real SDK client, local endpoint)', () => {
  it('invokes the named endpoint as SageMaker expects and returns the container’s enrichment', async () => {
    const client = inferenceClientFromEnv(lambdaEnv());
    const res = await client.enrich({ image_base64: await photo('photo.jpg'), hotel_name: 'Alpenhof', city: 'Grindelwald', image_id: 'smr-1', include_embedding: true });

    expect(res.status).toBe(200);
    const body = res.body as EnrichResult;
    expect(body.image_id).toBe('smr-1');
    expect(body.seo_filename.startsWith('alpenhof-grindelwald-')).toBe(true);
    expect(body.embedding).toHaveLength(worker.model.embedDim);

    expect(sagemaker.invocations).toHaveLength(1);
    const call = sagemaker.invocations[0];
    expect([call.method, call.path]).toEqual(['POST', `/endpoints/${ENDPOINT}/invocations`]);
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.headers.accept).toBe('application/json');
    // Signed for SageMaker Runtime in the Lambda's region (service name "sagemaker").
    expect(call.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST\/\d{8}\/eu-west-1\/sagemaker\/aws4_request/);
    expect(JSON.parse(call.body.toString('utf8'))).toMatchObject({ image_id: 'smr-1', hotel_name: 'Alpenhof' });
  });

  it('passes a container error (SageMaker’s 424 ModelError) through with its original status and body', async () => {
    const client = inferenceClientFromEnv(lambdaEnv());
    const res = await client.enrich({ image_base64: await photo('truncated.jpg'), include_embedding: false });
    expect(res.status).toBe(422);
    expect((res.body as EnrichErrorBody).error.code).toBe('CORRUPT_IMAGE');
    expect(sagemaker.invocations).toHaveLength(1); // a ModelError is an answer, not retried
  });

  it('turns service errors into MODEL_UNAVAILABLE after the SDK’s retries (503 ServiceUnavailable)', async () => {
    sagemaker.failWith({ status: 503, type: 'ServiceUnavailable', message: 'The service is unavailable.' });
    const client = inferenceClientFromEnv(lambdaEnv());
    const failure = await client.enrich({ uri: 's3://uploads/x.jpg', include_embedding: false }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(VistaError);
    expect((failure as VistaError).code).toBe(SystemErrorCode.MODEL_UNAVAILABLE);
    expect((failure as VistaError).message).toContain(ENDPOINT);
    expect(sagemaker.invocations).toHaveLength(3); // AWS_MAX_ATTEMPTS: the SDK retried a 503
  });

  it('reports an endpoint that does not exist (400 ValidationError) without retrying it', async () => {
    const client = inferenceClientFromEnv(lambdaEnv('no-such-endpoint'));
    const failure = await client.enrich({ uri: 's3://uploads/x.jpg', include_embedding: false }).catch((err: unknown) => err);
    expect((failure as VistaError).code).toBe(SystemErrorCode.MODEL_UNAVAILABLE);
    expect((failure as VistaError).message).toContain('Endpoint no-such-endpoint of account 000000000000 not found');
    expect(sagemaker.invocations).toHaveLength(1);
  });

  it('honours the call deadline', async () => {
    const client = inferenceClientFromEnv(lambdaEnv());
    const failure = await client.enrich({ image_base64: await photo('photo.jpg'), include_embedding: false }, { timeoutMs: 1 }).catch((err: unknown) => err);
    expect((failure as VistaError).code).toBe(SystemErrorCode.MODEL_UNAVAILABLE);
  });

  it('uses plain HTTP when only the URL is set, and refuses an environment naming neither', async () => {
    const http = inferenceClientFromEnv({ [REALTIME_LAMBDA_ENV.inferenceUrl]: server.url });
    const res = await http.enrich({ image_base64: await photo('photo.jpg'), include_embedding: false });
    expect(res.status).toBe(200);
    expect(sagemaker.invocations).toHaveLength(0);
    expect(() => inferenceClientFromEnv({})).toThrow(expect.objectContaining({ code: SystemErrorCode.CONFIG_INVALID }));
  });
});
