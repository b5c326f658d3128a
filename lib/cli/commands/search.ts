import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { SystemErrorCode, VistaError } from '../../core/errors';
import { DEFAULT_MODEL_DIR } from '../../core/pipeline/worker-config';
import { type VistaStore, openStore } from '../../core/store/connect';
import { countTags } from '../../core/api/catalog';
import { type SearchOptions, type SearchResponse, browse, groupByHotel, searchByText, searchLiked, similarTo, tagsFilterFirst } from '../../core/store/search';
import { checkKnownTags } from '../../core/tags/closest';
import { loadTaxonomy, resolveTaxonomy } from '../../core/tags/taxonomy';
import type { SearchResult } from '../../core/store/vectors';
import type { ClipModel } from '../../core/types';
import { type CliCommand, type CliValues, countOpt, stringOpt, stringsOpt, usageError } from '../command';

const options = {
  db: { type: 'string' },
  similar: { type: 'string' },
  text: { type: 'string' },
  liked: { type: 'string' },
  tag: { type: 'string', multiple: true },
  hotel: { type: 'string' },
  city: { type: 'string' },
  taxonomy: { type: 'string' },
  'by-hotel': { type: 'boolean' },
  'per-hotel': { type: 'string' },
  k: { type: 'string' },
  model: { type: 'string' },
  nprobes: { type: 'string' },
  refine: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const USAGE = [
  'vista search --db DIR|s3://… (--similar IMAGE_ID | --text "…" | --liked ID,ID,… | --tag T | --hotel H | --city C) [options]',
  '',
  '  --db URI          LanceDB database (local folder or s3://bucket/prefix)',
  '  --similar ID      images that look like this one (never itself)',
  '  --text "…"        images matching a description (needs the model\'s text tower)',
  '  --liked ID,ID     more like what a user liked: the normalized mean of their embeddings',
  '  --tag T           keep only images with this tag; repeat: every tag must be present.',
  '                    Alone (no --similar/--text/--liked): browse the images with these tags',
  '  --hotel H         only this hotel\'s images (hotel_id); alone: browse the hotel',
  '  --city C          only images of hotels in this city (as stored); alone: browse the city',
  '  --taxonomy URI    taxonomy naming the valid tags (default: bundled hotel taxonomy; `vista tags` lists them)',
  '  --by-hotel        rank hotels by their best image (--per-hotel N images each, default 3)',
  '  --k N             results, or hotels with --by-hotel (default 10)',
  `  --model DIR       CLIP model for --text (default ${path.relative(process.cwd(), DEFAULT_MODEL_DIR) || DEFAULT_MODEL_DIR})`,
  '  --nprobes N       IVF partitions probed; --refine N re-ranks k×N candidates exactly',
  '  --json            JSON instead of a table',
  '',
  'Examples:',
  '  vista search --db .vista/db --similar hotel-42-img-7 --k 5',
  '  vista search --db .vista/db --text "rooftop pool at night" --tag rooftop-pool --by-hotel',
  '  vista search --db .vista/db --tag ocean-view --city Nice',
].join('\n');

export const command: CliCommand = {
  name: 'search',
  summary: 'Search the image store: similar images, text, or what a user liked; tags and per-hotel grouping',
  usage: USAGE,
  options,
  async run(values) {
    const db = stringOpt(values, 'db');
    const modes = (['similar', 'text', 'liked'] as const).filter((m) => stringOpt(values, m) !== undefined);
    const browsing = modes.length === 0 && (stringsOpt(values, 'tag').length > 0 || stringOpt(values, 'hotel') !== undefined || stringOpt(values, 'city') !== undefined);
    if (!db || (modes.length !== 1 && !browsing)) throw usageError('give --db and exactly one of --similar, --text, --liked, or --tag/--hotel/--city alone to browse');
    checkLocalDb(db);
    const searchOptions: SearchOptions = {
      k: countOpt(values, 'k', 10),
      tags: stringsOpt(values, 'tag'),
      hotelId: stringOpt(values, 'hotel'),
      city: stringOpt(values, 'city'),
      byHotel: values['by-hotel'] === true,
      perHotel: countOpt(values, 'per-hotel', 3),
      nprobes: countOpt(values, 'nprobes'),
      refineFactor: countOpt(values, 'refine'),
    };
    const store = await openStore(db);
    try {
      await checkTagsKnown(store, searchOptions.tags ?? [], stringOpt(values, 'taxonomy'));
      const response = browsing ? await browseResponse(store, searchOptions) : await runSearch(store, modes[0], values, searchOptions);
      console.log(values.json === true ? JSON.stringify(response, null, 2) : formatResponse(response, searchOptions.tags));
      return 0;
    } finally {
      store.close();
    }
  },
};

async function runSearch(
  store: VistaStore,
  mode: 'similar' | 'text' | 'liked',
  values: CliValues,
  options: SearchOptions,
): Promise<SearchResponse> {
  switch (mode) {
    case 'similar':
      return similarTo(store, stringOpt(values, 'similar')!, options);
    case 'liked':
      return searchLiked(store, stringOpt(values, 'liked')!.split(',').map((s) => s.trim()).filter(Boolean), options);
    case 'text': {
      const model = await loadTextModel(stringOpt(values, 'model'));
      try {
        return await searchByText(store, model, stringOpt(values, 'text')!, options);
      } finally {
        await model.close();
      }
    }
  }
}

/** Searching must never create a database: a local --db must already be one (a folder). */
function checkLocalDb(db: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db)) return;
  if (!existsSync(db)) throw usageError(`--db ${db} does not exist: give the database folder a backfill wrote (e.g. .vista/demo/db)`);
  if (!statSync(db).isDirectory()) throw usageError(`--db ${db} is a file: give the database folder a backfill wrote`);
}

/** A tag outside the taxonomy (and absent from the store) is an error naming the closest ones. */
async function checkTagsKnown(store: VistaStore, tags: string[], taxonomyUri: string | undefined): Promise<void> {
  if (tags.length === 0) return;
  const labels = new Set(resolveTaxonomy(await loadTaxonomy(taxonomyUri)).flatMap((c) => c.labels.map((l) => l.name)));
  if (tags.every((t) => labels.has(t))) return;
  // Rows tagged by another taxonomy version count as known: the store is scanned only in this case.
  for (const t of (await countTags(store)).counts.keys()) labels.add(t);
  checkKnownTags(tags, labels);
}

async function browseResponse(store: VistaStore, options: SearchOptions): Promise<SearchResponse> {
  if (!options.byHotel) return { results: await browse(store, options) };
  const hotels = groupByHotel(await browse(store, { ...options, k: 1000 }), options.perHotel ?? 3).slice(0, options.k ?? 10);
  return { results: hotels.flatMap((h) => h.images), hotels };
}

/** The model folder for --text: the one given, else the default if it exists, else a clear error. */
export function textModelLocation(given: string | undefined, defaultDir = DEFAULT_MODEL_DIR): string {
  if (given) return given;
  if (existsSync(defaultDir)) return defaultDir;
  throw new VistaError(
    SystemErrorCode.MODEL_NOT_FOUND,
    `--text needs a CLIP model and none was given; the default ${defaultDir} does not exist. ` +
      'Pass --model DIR, or generate the tiny test model: npx vista model generate --size tiny --out .vista/models/tiny',
  );
}

async function loadTextModel(given: string | undefined): Promise<ClipModel> {
  const location = textModelLocation(given);
  // Loaded lazily: onnxruntime is only needed for text search.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadClipModel } = require('../../core/model') as typeof import('../../core/model');
  return loadClipModel(location, { logger: () => undefined });
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, width - 1)}…`;
}

function formatRows(results: SearchResult[], filterTags: readonly string[], indent = ''): string[] {
  return results.map(
    (r, i) =>
      `${indent}${String(i + 1).padStart(3)}  ${r.score.toFixed(4)}  ${truncate(r.imageId, 28)}  ${truncate(r.hotelName ?? r.hotelId ?? '-', 24)}  ${truncate(tagsFilterFirst(r.tags, filterTags).join(', '), 36)}  ${r.seoFilename}`,
  );
}

export function formatResponse(response: SearchResponse, filterTags: readonly string[] = []): string {
  const header = `  #  score   ${'image_id'.padEnd(28)}  ${'hotel'.padEnd(24)}  ${'tags'.padEnd(36)}  seo_filename`;
  if (response.results.length === 0) return 'no results';
  if (!response.hotels) return [header, ...formatRows(response.results, filterTags)].join('\n');
  const lines: string[] = [];
  response.hotels.forEach((hotel, i) => {
    const name = hotel.hotelName ? `${hotel.hotelName}${hotel.city ? `, ${hotel.city}` : ''} (${hotel.hotelId})` : `hotel ${hotel.hotelId}`;
    lines.push(`${i + 1}. ${name}  best score ${hotel.score.toFixed(4)}`);
    lines.push(...formatRows(hotel.images, filterTags, '   '));
  });
  return [header, ...lines].join('\n');
}
