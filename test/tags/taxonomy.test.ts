import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SystemErrorCode, VistaError } from '../../lib/core/errors';
import {
  DEFAULT_THRESHOLD,
  bankRows,
  defaultTaxonomy,
  loadTaxonomy,
  parseTaxonomy,
  resolveTaxonomy,
  taxonomyId,
} from '../../lib/core/tags';

interface RawLabel { name: string; display?: string; prompts?: string[]; threshold?: number; [key: string]: unknown }
interface RawCategory { name: string; exclusive: boolean; threshold?: number; background?: string[]; labels: RawLabel[] }
interface RawTaxonomy { id?: string; version: number; templates?: string[]; background?: string[]; categories: RawCategory[] }

const minimal = (): RawTaxonomy => ({
  id: 'mini',
  version: 1,
  templates: ['a photo of a {label}.'],
  background: ['a photo of a hotel.'],
  categories: [
    { name: 'room_type', exclusive: true, labels: [{ name: 'suite' }, { name: 'twin-room', display: 'Twin Room' }] },
    {
      name: 'amenities',
      exclusive: false,
      threshold: 0.7,
      labels: [{ name: 'bathtub', prompts: ['a bathtub.', 'a {label} in a bathroom.'] }, { name: 'crib', threshold: 0.9 }],
    },
  ],
});

/** The TAXONOMY_INVALID error thrown for `value`, or fails. */
function invalid(value: unknown): VistaError {
  try {
    parseTaxonomy(value, 'test.json');
  } catch (err) {
    expect(err).toBeInstanceOf(VistaError);
    expect((err as VistaError).code).toBe(SystemErrorCode.TAXONOMY_INVALID);
    return err as VistaError;
  }
  throw new Error('expected the taxonomy to be rejected');
}

describe('bundled taxonomy', () => {
  const taxonomy = defaultTaxonomy();
  const categories = resolveTaxonomy(taxonomy);

  it('is valid and covers rooms, views, amenities, facilities and scenes with at least 60 tags', () => {
    expect(categories.map((c) => c.name)).toEqual(['room_type', 'view', 'amenities', 'facilities', 'scene']);
    expect(categories.flatMap((c) => c.labels).length).toBeGreaterThanOrEqual(60);
    expect(categories.filter((c) => c.exclusive).map((c) => c.name)).toEqual(['room_type', 'view']);
    for (const tag of ['family-room', 'ocean-view', 'bathtub', 'infinity-pool', 'beach', 'no-view', 'kids-club']) {
      expect(categories.some((c) => c.labels.some((l) => l.name === tag))).toBe(true);
    }
  });

  it('gives every label several distinct prompts and every category background prompts', () => {
    for (const category of categories) {
      expect(category.background.length).toBeGreaterThan(0);
      for (const label of category.labels) {
        expect(new Set(label.prompts).size).toBeGreaterThanOrEqual(3);
        for (const prompt of label.prompts) expect(prompt).not.toContain('{label}');
      }
    }
  });

  it('has an id naming it and its content', () => {
    expect(taxonomyId(taxonomy)).toMatch(/^hotel@[0-9a-f]{12}$/);
  });
});

describe('resolveTaxonomy', () => {
  const [rooms, amenities] = resolveTaxonomy(parseTaxonomy(minimal()));

  it('fills templates with the lowercase display name, or the slug in words', () => {
    expect(rooms.labels.map((l) => l.prompts)).toEqual([['a photo of a suite.'], ['a photo of a twin room.']]);
    expect(rooms.labels[1].display).toBe('Twin Room');
    expect(rooms.labels[0].display).toBe('suite');
  });

  it('lets label prompts replace the templates', () => {
    expect(amenities.labels[0].prompts).toEqual(['a bathtub.', 'a bathtub in a bathroom.']);
  });

  it('takes thresholds from the label, else the category, else the default', () => {
    expect(rooms.labels[0].threshold).toBe(DEFAULT_THRESHOLD);
    expect(amenities.labels.map((l) => l.threshold)).toEqual([0.7, 0.9]);
  });

  it('takes background prompts from the category, else the taxonomy; [] turns it off', () => {
    const t = minimal();
    t.categories[0].background = [];
    t.categories[1].background = ['a photo of a room.'];
    const [r, a] = resolveTaxonomy(parseTaxonomy(t));
    expect(r.background).toEqual([]);
    expect(a.background).toEqual(['a photo of a room.']);
    expect(bankRows([r, a]).map((row) => row.label)).toEqual(['suite', 'twin-room', 'bathtub', 'crib', null]);
  });
});

describe('parseTaxonomy errors name the bad field', () => {
  it('rejects a tag that is not a slug', () => {
    const t = minimal();
    t.categories[1].labels[1].name = 'Hot Tub';
    expect(invalid(t).message).toContain('categories[1].labels[1].name: must be a lowercase slug');
  });

  it('rejects duplicate tags across categories', () => {
    const t = minimal();
    t.categories[1].labels[0].name = 'suite';
    expect(invalid(t).message).toMatch(/categories\[1\]\.labels\[0\]\.name: duplicate tag "suite" \(already in category "room_type"\)/);
  });

  it('rejects unknown fields (typos) and out-of-range thresholds', () => {
    const t = minimal();
    t.categories[0].labels[0].treshold = 0.5;
    t.categories[1].threshold = 1.5;
    const err = invalid(t);
    expect(err.message).toContain('categories[0].labels[0]');
    expect(err.message).toContain('treshold');
    expect(err.message).toContain('categories[1].threshold: must be between 0 and 1');
    expect((err.details?.issues as unknown[]).length).toBe(2);
  });

  it('rejects templates without {label}', () => {
    const t = minimal();
    t.templates = ['a photo.'];
    expect(invalid(t).message).toContain('templates[0]: must contain "{label}"');
  });

  it('rejects a multi-label category with nothing to score against', () => {
    const t = minimal();
    delete t.background;
    expect(invalid(t).message).toContain('categories[1].background: a multi-label category needs background prompts');
  });

  it('rejects an exclusive category that cannot lose', () => {
    const t = minimal();
    delete t.background;
    t.categories[1].background = ['a photo.'];
    t.categories[0].labels = [{ name: 'suite' }];
    expect(invalid(t).message).toContain('categories[0].labels: an exclusive category needs at least two labels');
  });

  it('rejects a missing version and empty categories', () => {
    expect(invalid({ categories: [] }).message).toMatch(/version: .*; categories: must have at least one category/);
  });
});

describe('taxonomyId', () => {
  it('ignores key order and whitespace', () => {
    const a = minimal();
    const reordered = JSON.parse(JSON.stringify({ categories: a.categories, version: 1, background: a.background, templates: a.templates, id: 'mini' }));
    expect(taxonomyId(parseTaxonomy(reordered))).toBe(taxonomyId(parseTaxonomy(a)));
  });

  it('changes when a prompt or a threshold changes', () => {
    const base = taxonomyId(parseTaxonomy(minimal()));
    const prompt = minimal();
    prompt.categories[1].labels[0].prompts = ['a bathtub.'];
    const threshold = minimal();
    threshold.categories[1].threshold = 0.71;
    expect(new Set([base, taxonomyId(parseTaxonomy(prompt)), taxonomyId(parseTaxonomy(threshold))]).size).toBe(3);
  });

  it('says "taxonomy" when the file has no id', () => {
    const t = minimal();
    delete t.id;
    expect(taxonomyId(parseTaxonomy(t))).toMatch(/^taxonomy@[0-9a-f]{12}$/);
  });
});

describe('loadTaxonomy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-taxonomy-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('loads the bundled taxonomy without a URI', async () => {
    expect(taxonomyId(await loadTaxonomy())).toBe(taxonomyId(defaultTaxonomy()));
  });

  it('loads and validates a local file', async () => {
    const file = path.join(dir, 'ok.json');
    await fs.writeFile(file, JSON.stringify(minimal(), null, 2));
    expect(taxonomyId(await loadTaxonomy(file))).toBe(taxonomyId(parseTaxonomy(minimal())));
  });

  it('reports unreadable, non-JSON and invalid files as TAXONOMY_INVALID with the URI', async () => {
    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(bad, '{ "version": 1,');
    const wrong = path.join(dir, 'wrong.json');
    await fs.writeFile(wrong, JSON.stringify({ version: 1, categories: [{ name: 'x', exclusive: true, labels: [] }] }));
    for (const [uri, text] of [
      [path.join(dir, 'missing.json'), 'cannot read taxonomy'],
      [bad, 'is not valid JSON'],
      [wrong, 'categories[0].labels: must have at least one label'],
    ]) {
      await expect(loadTaxonomy(uri)).rejects.toMatchObject({ code: SystemErrorCode.TAXONOMY_INVALID, message: expect.stringContaining(text) });
      await expect(loadTaxonomy(uri)).rejects.toMatchObject({ message: expect.stringContaining(uri) });
    }
  });
});
