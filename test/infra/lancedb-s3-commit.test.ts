/**
 * Why the stack provisions no DynamoDB commit table for LanceDB: the pinned @lancedb/lancedb
 * commits a table version on s3:// with a conditional PUT (`If-None-Match: *`) of the version's
 * manifest, which AWS S3 enforces, so concurrent load Lambdas cannot overwrite each other's
 * commit (the loser gets 412 and LanceDB retries on the next version). Older Lance versions wrote
 * manifests unconditionally on s3:// and needed `s3+ddb://`. This test watches the requests
 * LanceDB actually sends, through a logging proxy in front of a local S3 server.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as lancedb from '@lancedb/lancedb';
import { startS3, type LocalS3 } from '../support/s3';

interface Logged {
  method: string;
  path: string;
  ifNoneMatch?: string;
}

let s3: LocalS3;
let proxy: http.Server;
const requests: Logged[] = [];

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket('commits');
  const upstream = new URL(s3.endpoint);
  proxy = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', ifNoneMatch: req.headers['if-none-match'] as string | undefined });
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await s3?.stop();
});

it('commits every table version with If-None-Match: * on s3://', async () => {
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  // LanceDB prefers the environment's endpoint over storage options: send it through the proxy.
  const saved = process.env.AWS_ENDPOINT_URL_S3;
  delete process.env.AWS_ENDPOINT_URL_S3;
  try {
    const db = await lancedb.connect('s3://commits/db', {
      storageOptions: {
        aws_endpoint: endpoint,
        allow_http: 'true',
        aws_virtual_hosted_style_request: 'false',
        aws_region: 'us-east-1',
        aws_access_key_id: 'S3RVER',
        aws_secret_access_key: 'S3RVER',
      },
    });
    const table = await db.createTable('images', [{ id: 1, embedding: [0.1, 0.2] }]);
    await table.add([{ id: 2, embedding: [0.3, 0.4] }]);
    expect(await table.countRows()).toBe(2);
    table.close();
    db.close();
  } finally {
    if (saved !== undefined) process.env.AWS_ENDPOINT_URL_S3 = saved;
  }

  const manifestPuts = requests.filter((r) => r.method === 'PUT' && /\/images\.lance\/_versions\/\d+\.manifest$/.test(r.path));
  expect(manifestPuts).toHaveLength(2); // create + add
  for (const put of manifestPuts) expect(put.ifNoneMatch).toBe('*');
});
