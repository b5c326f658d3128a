import { requestFromEvent, resultFromResponse } from '../../lib/core/api/http-api-event';

test('an HTTP API event becomes the handler request, and answers go back as JSON or base64 bytes', () => {
  expect(
    requestFromEvent({ rawPath: '/v1/search', requestContext: { http: { method: 'POST' } }, body: Buffer.from('{"tags":["pool"]}').toString('base64'), isBase64Encoded: true }),
  ).toEqual({ method: 'POST', path: '/v1/search', query: {}, body: { tags: ['pool'] } });
  expect(requestFromEvent({ rawPath: '/v1/images/a/similar', queryStringParameters: { k: '5' } })).toMatchObject({ method: 'GET', query: { k: '5' } });
  expect(requestFromEvent({ rawPath: '/v1/search', body: '{not json' })).toMatchObject({ status: 400 });
  expect(resultFromResponse({ status: 200, headers: { a: 'b' }, body: { results: [] } })).toEqual({ statusCode: 200, headers: { a: 'b' }, body: '{"results":[]}' });
  expect(resultFromResponse({ status: 200, headers: {}, body: Buffer.from('img') })).toEqual({ statusCode: 200, headers: {}, body: Buffer.from('img').toString('base64'), isBase64Encoded: true });
});
