/**
 * The explorer page's files: its own (index.html, app.js, style.css beside this file) and the
 * vendored ES modules of preact, preact/hooks and htm, taken from node_modules as published (no
 * build step; an import map in index.html names them). The local server and the CloudFront
 * deployment serve exactly this list.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const EXPLORER_DIR = __dirname;

export interface PageAsset {
  /** Path under the page's root, e.g. `vendor/preact.mjs`. */
  urlPath: string;
  file: string;
  contentType: string;
}

/** A file beside a package entry's CommonJS build (their package.json is not exported). */
const beside = (entry: string, file: string) => path.join(path.dirname(require.resolve(entry)), file);

export function pageAssets(): PageAsset[] {
  const own = (name: string, contentType: string): PageAsset => ({ urlPath: name, file: path.join(EXPLORER_DIR, name), contentType });
  const js = 'text/javascript; charset=utf-8';
  return [
    own('index.html', 'text/html; charset=utf-8'),
    own('app.js', js),
    own('style.css', 'text/css; charset=utf-8'),
    { urlPath: 'vendor/preact.mjs', file: beside('preact', 'preact.module.js'), contentType: js },
    { urlPath: 'vendor/hooks.mjs', file: beside('preact/hooks', 'hooks.module.js'), contentType: js },
    { urlPath: 'vendor/htm.mjs', file: beside('htm', 'htm.module.js'), contentType: js },
  ];
}

/** `config.js`: where the page finds the API, and (in AWS) how it signs users in. */
export interface PageConfig {
  /** API base URL; '' for the page's own origin. */
  apiBase: string;
  /** Cognito hosted sign-in for the deployed page. */
  auth?: { domain: string; clientId: string; redirectUri: string };
}

export function pageConfigScript(config: PageConfig): string {
  return `window.VISTA_CONFIG = ${JSON.stringify(config)};\n`;
}

/**
 * The page's Content-Security-Policy. The import map is an inline script: it is allowed by its
 * hash, nothing else inline is. Thumbnails may come from pre-signed S3 URLs (`imgSources`).
 */
export function pageContentSecurityPolicy(options: { connectSources?: string[]; imgSources?: string[] } = {}): string {
  const page = readFileSync(path.join(EXPLORER_DIR, 'index.html'), 'utf8');
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1] ?? '';
  const hash = createHash('sha256').update(importMap).digest('base64');
  return [
    "default-src 'self'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    ['img-src', "'self'", 'data:', ...(options.imgSources ?? [])].join(' '),
    ['connect-src', "'self'", ...(options.connectSources ?? [])].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}
