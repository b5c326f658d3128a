/**
 * Smoke test of `vista bench page` at a tiny size: chromium opens the explorer twice and the
 * benchmark reports first paint from the page's own performance entries. No timing is asserted.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findChromium } from '../../bench/page';
import { command as benchPage } from '../../lib/cli/commands/bench-page';

const describeWithBrowser = findChromium() ? describe : describe.skip;
if (!findChromium()) console.warn('bench page smoke test SKIPPED: no chromium found (apt-get install chromium); .ci/run installs it');

describeWithBrowser('vista bench page', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-bench-page-'));
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  test('opens the explorer in fresh contexts and reports first paint and facets', async () => {
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await benchPage.run({ loads: '2', images: '6', dir: path.join(root, 'page') }, [])).toBe(0);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const result = JSON.parse(lines.join('\n'));
    expect(result.catalog_images).toBe(6);
    for (const figure of [result.first_contentful_paint, result.tag_facets_shown]) {
      expect(figure.n).toBe(2);
      expect(figure.min_ms).toBeGreaterThan(0);
      expect(figure.median_ms).toBeGreaterThanOrEqual(figure.min_ms);
    }
    expect(result.tag_facets_shown.min_ms).toBeGreaterThanOrEqual(result.first_contentful_paint.min_ms);
    expect(result.targets.first_paint_ms.target).toBe(1000);
  }, 120_000);
});
