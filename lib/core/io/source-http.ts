/** Reads an http(s) URL with the global fetch, under the same byte cap as the other sources. */
import { readCapped, tooLarge } from './read-capped';
import { classifyHttpStatus, classifyNetworkError } from './source-errors';

export async function fetchHttp(url: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (err) {
    throw classifyNetworkError(url, err);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw classifyHttpStatus(url, response.status, response.statusText);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(url, declared, maxBytes);
  }
  if (!response.body) return Buffer.alloc(0);
  try {
    return await readCapped(url, response.body as unknown as AsyncIterable<Uint8Array>, { maxBytes });
  } catch (err) {
    throw classifyNetworkError(url, err);
  }
}
