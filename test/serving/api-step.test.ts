/**
 * The API Lambda's store option, against a fake endpoint and a local inbox: what is stored, what
 * is not, and what the endpoint is sent.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { enrichForApi } from '../../lib/core/serving/api-step';
import type { InferenceClient, InferenceResponse } from '../../lib/core/serving/inference-client';
import type { EnrichRequest } from '../../lib/core/serving/protocol';

let inbox: string;
beforeEach(async () => {
  inbox = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-api-step-'));
});
afterEach(async () => {
  await fs.rm(inbox, { recursive: true, force: true });
});

function fakeClient(answer: (request: EnrichRequest) => InferenceResponse): { client: InferenceClient; sent: EnrichRequest[] } {
  const sent: EnrichRequest[] = [];
  return { sent, client: { enrich: async (request) => (sent.push(request), answer(request)) } };
}

const request = (extra: Partial<EnrichRequest> = {}): EnrichRequest => ({ image_base64: 'aGk=', image_id: 'img-1', include_embedding: false, store: true, ...extra });
const error = (status: number, code: string): InferenceResponse => ({ status, body: { error: { code: code as never, message: 'x' } } });
const records = async () =>
  Promise.all((await fs.readdir(inbox)).filter((n) => n !== 'file').map(async (n) => JSON.parse(await fs.readFile(path.join(inbox, n), 'utf8')) as { kind: string }));

test('the endpoint is asked for the embedding and never sent `store`', async () => {
  const { client, sent } = fakeClient((r) => ({ status: 200, body: { image_id: r.image_id!, embedding: [1, 0], seo_filename: 'a.jpg' } as never }));
  const answer = await enrichForApi(request(), { client, inboxUri: inbox });
  expect(sent).toEqual([expect.objectContaining({ include_embedding: true })]);
  expect('store' in sent[0]).toBe(false);
  expect(answer).toEqual({ status: 200, body: { image_id: 'img-1', seo_filename: 'a.jpg' } });
  expect((await records()).map((r) => r.kind)).toEqual(['result']);

  const plain = fakeClient(() => error(422, 'CORRUPT_IMAGE'));
  await enrichForApi(request({ store: undefined }), { client: plain.client, inboxUri: inbox });
  expect('store' in plain.sent[0]).toBe(false);
  expect(await records()).toHaveLength(1);
});

test('only failures of the image itself are stored: not a wrong uri, not a model hiccup, not an outage', async () => {
  for (const [status, code] of [[404, 'NOT_FOUND'], [403, 'ACCESS_DENIED'], [422, 'MODEL_FAILED'], [502, 'FETCH_FAILED'], [400, 'REQUEST_INVALID'], [503, 'MODEL_UNAVAILABLE']] as const) {
    const { client } = fakeClient(() => error(status, code));
    expect((await enrichForApi(request({ uri: 's3://uploads/x.jpg', image_base64: undefined }), { client, inboxUri: inbox })).status).toBe(status);
  }
  expect(await records()).toEqual([]);
  for (const code of ['CORRUPT_IMAGE', 'NOT_AN_IMAGE', 'TOO_MANY_PIXELS']) {
    const { client } = fakeClient(() => error(422, code));
    await enrichForApi(request(), { client, inboxUri: inbox });
  }
  expect((await records()).map((r) => r.kind)).toEqual(['error', 'error', 'error']);
});

test('a 200 that is not this image’s result is not stored under its id', async () => {
  const { client } = fakeClient(() => ({ status: 200, body: { image_id: 'someone-else', embedding: [1] } as never }));
  await expect(enrichForApi(request(), { client, inboxUri: inbox })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  expect(await records()).toEqual([]);
});

test('a store write that fails answers STORE_FAILED (retry), and a deployment without an inbox refuses store requests', async () => {
  const { client } = fakeClient((r) => ({ status: 200, body: { image_id: r.image_id!, embedding: [1] } as never }));
  const notAFolder = path.join(inbox, 'file');
  await fs.writeFile(notAFolder, '');
  await expect(enrichForApi(request(), { client, inboxUri: notAFolder })).rejects.toMatchObject({ code: 'STORE_FAILED' });
  await expect(enrichForApi(request(), { client })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
});
