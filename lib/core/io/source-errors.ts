/** Maps what S3, the filesystem and HTTP throw onto per-image codes, deciding what is worth a retry. */
import { ImageErrorCode, VistaError } from '../errors';
import { TransientError, isTransientNetworkError, isTransientStatus } from './retry';

const S3_NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
const S3_DENIED = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AllAccessDisabled',
  'InvalidObjectState',
]);
const S3_THROTTLED = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
]);
const S3_TRANSIENT = new Set([
  ...S3_THROTTLED,
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

export function classifyS3Error(uri: string, err: unknown): VistaError {
  if (err instanceof VistaError) return err;
  const { name, message } = err as { name?: string; message?: string };
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const what = `${uri}: ${name ?? 'Error'}${message && message !== name ? ` (${message})` : ''}`;
  const details = { status, s3Error: name };
  if ((name && S3_NOT_FOUND.has(name)) || status === 404) {
    return new VistaError(ImageErrorCode.NOT_FOUND, what, { cause: err, details });
  }
  if ((name && S3_DENIED.has(name)) || status === 403 || status === 401) {
    return new VistaError(ImageErrorCode.ACCESS_DENIED, what, { cause: err, details });
  }
  if ((name && S3_TRANSIENT.has(name)) || isTransientStatus(status) || isTransientNetworkError(err)) {
    return new TransientError(ImageErrorCode.FETCH_FAILED, what, err, isThrottleStatus(status) || (name !== undefined && S3_THROTTLED.has(name)));
  }
  return new VistaError(ImageErrorCode.FETCH_FAILED, what, { cause: err, details });
}

/** 503 is how S3 says SlowDown; 429 is everyone else's. */
function isThrottleStatus(status: number | undefined): boolean {
  return status === 429 || status === 503;
}

export function classifyFsError(file: string, err: unknown): VistaError {
  if (err instanceof VistaError) return err;
  const { code, message } = err as NodeJS.ErrnoException;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new VistaError(ImageErrorCode.NOT_FOUND, `${file}: no such file`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new VistaError(ImageErrorCode.ACCESS_DENIED, `${file}: permission denied`, { cause: err });
    // Running out of descriptors or a flaky network filesystem is a matter of load, not of the file.
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EIO':
    case 'ESTALE':
      return new TransientError(ImageErrorCode.FETCH_FAILED, `${file}: ${message}`, err);
    default:
      return new VistaError(ImageErrorCode.FETCH_FAILED, `${file}: ${message}`, { cause: err });
  }
}

export function classifyHttpStatus(url: string, status: number, statusText: string): VistaError {
  const what = `${url}: HTTP ${status} ${statusText}`.trim();
  if (status === 404 || status === 410) return new VistaError(ImageErrorCode.NOT_FOUND, what, { details: { status } });
  if (status === 401 || status === 403) return new VistaError(ImageErrorCode.ACCESS_DENIED, what, { details: { status } });
  if (isTransientStatus(status) || status === 408) return new TransientError(ImageErrorCode.FETCH_FAILED, what, undefined, isThrottleStatus(status));
  return new VistaError(ImageErrorCode.FETCH_FAILED, what, { details: { status } });
}

export function classifyNetworkError(url: string, err: unknown): VistaError {
  if (err instanceof VistaError) return err;
  const message = `${url}: ${(err as Error).message ?? String(err)}`;
  if (isTransientNetworkError(err)) return new TransientError(ImageErrorCode.FETCH_FAILED, message, err);
  return new VistaError(ImageErrorCode.FETCH_FAILED, message, { cause: err });
}
