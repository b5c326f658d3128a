/**
 * Which URIs a request may ask the server to fetch. A server that fetches whatever it is told
 * reads its own disk and its network's private hosts (SSRF), so every `uri` is checked against
 * the configured prefixes before a byte is read:
 *
 *   - s3:// prefixes: the URI must start with one, and no key segment may be `.` or `..` (S3 keys
 *     are literal, but HTTP layers on the way may normalize dot segments).
 *   - local prefixes (`file:///data/in/` or `/data/in/`): the URI is decoded (`%2e%2e` is `..`),
 *     resolved, and checked twice. Lexically first: outside the prefix → REQUEST_INVALID, which
 *     depends only on the text sent, never on the disk. Then by its real path (symlinks
 *     followed): a file that is missing, unreadable on the way, or whose real path leaves the
 *     prefix's real path gets one and the same NOT_FOUND answer, so that answers tell nothing
 *     about files outside the prefix. The resolved path is never put in a message: errors of the
 *     fetch itself are re-worded to name the URI as sent.
 *
 * HTTP(S) prefixes are refused: the HTTP fetcher follows redirects, so a prefix check could not
 * keep a request from reaching internal hosts.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageErrorCode, SystemErrorCode, VistaError, isVistaError } from '../errors';

export interface AllowedUri {
  /** What to hand the image source: the URI as sent (S3), or the checked real path (local). */
  fetchUri: string;
  /** Local: fetch errors must be re-worded (see redactFetchError). */
  local: boolean;
}

export interface UriAllowList {
  readonly prefixes: readonly string[];
  /** Throws VistaError REQUEST_INVALID (outside, by its text) or NOT_FOUND (missing or outside, by its real path). */
  check(uri: string): Promise<AllowedUri>;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export function makeUriAllowList(prefixes: readonly string[]): UriAllowList {
  const checked = prefixes.map(checkedPrefix);
  const s3Prefixes = checked.filter((p) => p.startsWith('s3://'));
  const localPrefixes = checked.filter((p) => !p.startsWith('s3://')).map((p) => ({ text: p, dir: localPath(p) }));
  const outside = () =>
    new VistaError(SystemErrorCode.REQUEST_INVALID, `uri must start with one of: ${checked.join(', ') || '(none allowed)'}`);

  return {
    prefixes: checked,
    async check(uri) {
      if (uri.startsWith('s3://')) {
        const key = uri.slice('s3://'.length).split('/').slice(1);
        if (key.some((segment) => segment === '.' || segment === '..') || !s3Prefixes.some((p) => uri.startsWith(p))) throw outside();
        return { fetchUri: uri, local: false };
      }
      if (SCHEME.test(uri) && !uri.startsWith('file://')) throw outside();
      let file: string;
      try {
        file = localPath(uri);
      } catch {
        throw new VistaError(SystemErrorCode.REQUEST_INVALID, 'uri is not a valid file URI');
      }
      const candidates = localPrefixes.filter((p) => isInside(file, p.dir));
      if (candidates.length === 0) throw outside();
      const notFound = new VistaError(ImageErrorCode.NOT_FOUND, `${uri}: not found under the allowed prefixes`);
      const real = await fs.realpath(file).catch(() => undefined);
      if (real === undefined) throw notFound;
      for (const prefix of candidates) {
        const realDir = await fs.realpath(prefix.dir).catch(() => undefined);
        if (realDir !== undefined && isInside(real, realDir)) return { fetchUri: real, local: true };
      }
      throw notFound;
    },
  };
}

/**
 * A fetch error of a checked local file, naming the URI as sent instead of the real path (the
 * image source's messages name the path it read).
 */
export function redactFetchError(uri: string, err: unknown): unknown {
  if (!isVistaError(err)) return err;
  const reason: Partial<Record<string, string>> = {
    [ImageErrorCode.NOT_FOUND]: 'not found under the allowed prefixes',
    [ImageErrorCode.ACCESS_DENIED]: 'permission denied',
    [ImageErrorCode.TOO_LARGE]: 'over the byte limit',
    [ImageErrorCode.EMPTY]: 'empty file',
    [ImageErrorCode.FETCH_TIMEOUT]: 'read timed out',
  };
  return new VistaError(err.code, `${uri}: ${reason[err.code] ?? 'could not be read'}`, { details: err.details });
}

/**
 * Prefixes are S3 (`s3://bucket/…`) or local folders, ending with '/' so that `s3://uploads`
 * cannot admit `s3://uploads-private` (nor `/data/in` admit `/data/inner`).
 */
function checkedPrefix(prefix: string): string {
  if (/^https?:\/\//i.test(prefix)) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `allowed URI prefix ${prefix}: http(s) is not allowed (redirects could reach internal hosts); use s3:// prefixes`);
  }
  if (prefix === 's3://') return prefix;
  if (!prefix.endsWith('/')) throw new VistaError(SystemErrorCode.CONFIG_INVALID, `allowed URI prefix ${prefix} must end with '/'`);
  if (SCHEME.test(prefix) && !prefix.startsWith('s3://') && !prefix.startsWith('file://')) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `allowed URI prefix ${prefix}: only s3:// and local folders (file:// or a path)`);
  }
  if (prefix.startsWith('s3://') && prefix.split('/').slice(3).some((s) => s === '.' || s === '..')) {
    throw new VistaError(SystemErrorCode.CONFIG_INVALID, `allowed URI prefix ${prefix} must not contain . or .. segments`);
  }
  return prefix;
}

/** Decoded (`file://` percent-escapes) and lexically resolved (`..` folded), without touching the disk. */
function localPath(uri: string): string {
  return uri.startsWith('file://') ? path.resolve(fileURLToPath(uri)) : path.resolve(uri);
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
