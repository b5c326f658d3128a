/**
 * `vista bench page`: the explorer page's first paint, as a person opening it locally sees it.
 * A small real catalog (the demo's pictures through the worker, loaded and indexed) is served by
 * `startApiServer` exactly as `vista api` serves it; Debian's chromium (playwright-core, no browser
 * download) opens `/` in a fresh context each time (no cache), and the page's own performance
 * entries give first contentful paint and the moment its tag facets (its first data) are on screen.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeApiHandler } from '../lib/core/api/handler';
import { startApiServer } from '../lib/core/api/server';
import { servedThumbnails } from '../lib/core/api/thumbnails';
import { makeImageSource } from '../lib/core/io/source';
import { openStore } from '../lib/core/store/connect';
import { defaultTaxonomy, resolveTaxonomy, taxonomyId } from '../lib/core/tags';
import { buildCatalogStore } from '../test/api/catalog-store';
import { median } from './windows';

export interface PageBenchOptions {
  /** Page loads, each in a fresh browser context. */
  loads: number;
  /** Images in the catalog behind the page. */
  images: number;
  chromium: string;
  workDir: string;
  log: (m: string) => void;
}

export const FIRST_PAINT_TARGET_MS = 1000;

/** Debian's chromium, or CHROMIUM_PATH; undefined when none is installed. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => Boolean(p && existsSync(p)));
}

const spread = (ms: number[]) => ({ min_ms: Math.round(Math.min(...ms)), median_ms: Math.round(median(ms)), max_ms: Math.round(Math.max(...ms)), n: ms.length });

export async function runPageBench(o: PageBenchOptions): Promise<Record<string, unknown>> {
  // playwright-core is a development dependency: loaded only when this benchmark runs.
  const { chromium } = await import('playwright-core');
  await fs.rm(o.workDir, { recursive: true, force: true });
  await fs.mkdir(o.workDir, { recursive: true });
  o.log(`building a ${o.images}-image catalog with the tiny model (random weights: its tags are meaningless)`);
  const catalog = await buildCatalogStore(o.workDir, o.images);
  const store = await openStore(catalog.dbUri);
  const taxonomy = defaultTaxonomy();
  const server = await startApiServer(
    makeApiHandler({
      store,
      taxonomy: { id: taxonomyId(taxonomy), categories: resolveTaxonomy(taxonomy) },
      thumbnails: servedThumbnails({ source: makeImageSource(), allowedPrefixes: [catalog.imagesDir + path.sep] }),
    }),
    { port: 0 },
  );
  const browser = await chromium.launch({ executablePath: o.chromium, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const paints: number[] = [];
  const facets: number[] = [];
  try {
    for (let i = 0; i < o.loads; i++) {
      const context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      await page.locator('aside[aria-label="Tags"] li').first().waitFor();
      const { paint, shown } = await page.evaluate(() => ({
        paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
        shown: performance.now(),
      }));
      if (!Number.isFinite(paint)) throw new Error('chromium reported no first-contentful-paint entry');
      paints.push(paint);
      facets.push(shown);
      o.log(`load ${i + 1} of ${o.loads}: first contentful paint ${Math.round(paint)} ms, tag facets shown at ${Math.round(shown)} ms`);
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
    store.close();
  }
  const first = spread(paints);
  return {
    machine: { cpus: os.cpus().length, loadavg_at_end: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    catalog_images: o.images,
    note: 'each load in a fresh browser context (no cache); times from navigation start, by the page\'s performance entries',
    first_contentful_paint: first,
    tag_facets_shown: spread(facets),
    targets: { first_paint_ms: { target: FIRST_PAINT_TARGET_MS, of: 'median first contentful paint', met: first.median_ms < FIRST_PAINT_TARGET_MS } },
  };
}
