/**
 * The explorer page in a real browser: Debian's chromium driven by playwright-core (no browser
 * download). search → results → image view → similar → like → recommendations → hotel view.
 * Screenshots go to a temporary folder, or to VISTA_SCREENSHOTS_DIR (docs/ holds the committed ones).
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import sharp from 'sharp';
import { makeApiHandler } from '../../lib/core/api/handler';
import { type ApiServer, startApiServer } from '../../lib/core/api/server';
import { servedThumbnails } from '../../lib/core/api/thumbnails';
import { makeImageSource } from '../../lib/core/io/source';
import { loadClipModel } from '../../lib/core/model';
import { type VistaStore, openStore } from '../../lib/core/store/connect';
import { defaultTaxonomy, resolveTaxonomy, taxonomyId } from '../../lib/core/tags';
import type { ClipModel } from '../../lib/core/types';
import { TINY_MODEL_DIR } from '../support/models';
import { buildCatalogStore } from './catalog-store';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => Boolean(p && existsSync(p)));
if (!CHROMIUM) console.warn('explorer browser test SKIPPED: no chromium found (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it');
interface BrowserElement {
  complete: boolean;
  naturalWidth: number;
  getAttribute(name: string): string | null;
}
type BrowserGlobals = { document: { querySelectorAll(selector: string): Iterable<BrowserElement> } };

const describeWithBrowser = CHROMIUM ? describe : describe.skip;

describeWithBrowser('explorer page in chromium', () => {
  let tmp: string;
  let shots: string;
  let store: VistaStore;
  let model: ClipModel;
  let server: ApiServer;
  let browser: Browser;
  let page: Page;

  let built = 0;
  beforeAll(async () => {
    const start = Date.now();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-explorer-'));
    shots = process.env.VISTA_SCREENSHOTS_DIR ?? path.join(tmp, 'shots');
    await fs.mkdir(shots, { recursive: true });
    const catalog = await buildCatalogStore(tmp, 12);
    store = await openStore(catalog.dbUri);
    model = await loadClipModel(TINY_MODEL_DIR, { logger: () => undefined });
    const taxonomy = defaultTaxonomy();
    const handler = makeApiHandler({
      store,
      taxonomy: { id: taxonomyId(taxonomy), categories: resolveTaxonomy(taxonomy) },
      textModel: () => Promise.resolve(model),
      thumbnails: servedThumbnails({ source: makeImageSource(), allowedPrefixes: [catalog.imagesDir + path.sep] }),
    });
    server = await startApiServer(handler, { port: 0 });
    built = start;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await model?.close();
    store?.close();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  // Palette PNGs: a fifth of the bytes, for screenshots kept in docs/.
  const shot = async (name: string) => sharp(await page.screenshot()).png({ palette: true, quality: 80, effort: 10 }).toFile(path.join(shots, `explorer-${name}.png`));
  const resultIds = (label: string) => page.locator(`ul[aria-label="${label}"] > li`).evaluateAll((els) => els.map((e) => e.getAttribute('data-image-id')));
  // The first row of each grid (the rest load lazily, when scrolled to).
  // Functions, not strings (the page's CSP forbids eval); typed by hand: no DOM library here.
  const thumbnailsSettled = (label: string) =>
    page.waitForFunction((l) => [...(globalThis as unknown as BrowserGlobals).document.querySelectorAll(`ul[aria-label="${l}"] img`)].slice(0, 4).every((i) => i.complete), label);
  const allThumbnailsLoaded = (label: string) =>
    page.evaluate((l) => [...(globalThis as unknown as BrowserGlobals).document.querySelectorAll(`ul[aria-label="${l}"] img`)].slice(0, 4).every((i) => i.complete && i.naturalWidth > 0), label);

  test('search → results → image view → similar → like → recommendations → hotel, from the keyboard', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} ${m.location().url}`));

    const t0 = Date.now();
    await page.goto(`${server.url}/`);
    await page.locator('aside[aria-label="Tags"] li').first().waitFor();
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1);
    console.log(`explorer first contentful paint: ${Math.round(paint)} ms; catalog built in ${t0 - built} ms`);

    // Search: type in the search box and press Enter.
    const box = page.locator('input[type="search"]');
    await box.focus();
    await page.keyboard.type('Nice');
    await page.keyboard.press('Enter');
    await page.locator('ul[aria-label="Search results"] > li').first().waitFor();
    const found = await resultIds('Search results');
    expect(found.length).toBeGreaterThan(0);
    expect(await page.locator('ul[aria-label="Search results"] .seo').first().innerText()).toMatch(/\.(jpg|png|webp)$/);
    await thumbnailsSettled('Search results');
    expect(await allThumbnailsLoaded('Search results')).toBe(true);
    const alts = await page.locator('ul[aria-label="Search results"] img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt')));
    expect(alts.every((a) => a && a.length > 0)).toBe(true);
    await shot('results');

    // Image view through the keyboard: focus the first result's link, Enter.
    await page.locator('ul[aria-label="Search results"] a.thumb').first().focus();
    await page.keyboard.press('Enter');
    await page.locator('section[aria-label="Image"]').waitFor();
    const imageId = found[0]!;
    await expect(page.locator('section[aria-label="Image"]').innerText()).resolves.toMatch(/Dimensions[\s\S]*\d+ × \d+/);
    await page.locator('ul[aria-label="Similar images"] > li').first().waitFor();
    const similar = await resultIds('Similar images');
    expect(similar).not.toContain(imageId);
    expect(similar.length).toBeGreaterThan(0);
    await thumbnailsSettled('Similar images');
    await shot('image');

    // Like it; back to search: recommendations appear, without the liked image.
    const like = page.locator('section[aria-label="Image"] button[aria-pressed]');
    await like.focus();
    await page.keyboard.press('Enter');
    await expect(like.getAttribute('aria-pressed')).resolves.toBe('true');
    await page.goBack();
    await page.locator('ul[aria-label="Recommended images"] > li').first().waitFor();
    const recommended = await resultIds('Recommended images');
    expect(recommended).not.toContain(imageId);

    // Liking another image changes the recommendations.
    const other = recommended[recommended.length - 1]!;
    await page.locator(`ul[aria-label="Recommended images"] li[data-image-id="${other}"] button[aria-pressed]`).click();
    await page.waitForFunction(
      (before) =>
        JSON.stringify([...(globalThis as unknown as BrowserGlobals).document.querySelectorAll('ul[aria-label="Recommended images"] > li')].map((e) => e.getAttribute('data-image-id'))) !== before,
      JSON.stringify(recommended),
    );
    const after = await resultIds('Recommended images');
    expect(after).not.toContain(other);
    expect(after).not.toContain(imageId);
    await thumbnailsSettled('Recommended images');
    await page.mouse.wheel(0, -10_000);
    await page.locator('section[aria-label="Recommendations"] h2').waitFor();
    await shot('recommendations');

    // Hotel view from a result's hotel link.
    const hotelLink = page.locator('ul[aria-label="Search results"] .meta a').first();
    const hotelName = (await hotelLink.innerText()).split(',')[0];
    await hotelLink.click();
    await page.locator('section[aria-label="Hotel"]').waitFor();
    await expect(page.locator('section[aria-label="Hotel"] h1').innerText()).resolves.toBe(hotelName);
    await page.locator('ul[aria-label="Cover images"] > li').first().waitFor();
    await thumbnailsSettled('Cover images');
    await shot('hotel');
    expect(errors).toEqual([]);
  }, 120_000);

  test('thumbnails only for images the store knows', async () => {
    const res = await fetch(`${server.url}/v1/images/${encodeURIComponent('../../etc/passwd')}/thumbnail`);
    expect(res.status).toBe(404);
    const page404 = await fetch(`${server.url}/../../package.json`);
    expect(page404.status).toBe(404);
  });
});
