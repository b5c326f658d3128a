/**
 * The demo's example searches over the freshly loaded LanceDB table: similar images, text, text
 * with a tag filter, "more like what I liked", and hotels ranked by their best picture.
 */
import * as path from 'node:path';
import { loadClipModel } from '../../model';
import { openStore, searchByText, searchLiked, similarTo, tagsFilterFirst, type SearchResponse, type SearchResult } from '../../store';
import { DEMO_HOTELS } from './catalog';

/** Catalog image ids given in the manifest (every third entry: `demo-<n>`); 0 is a Côte d'Azur picture. */
const SEED_IMAGE = 'demo-0';
const LIKED = ['demo-0', 'demo-3', 'demo-6'];

export async function runDemoSearches(options: { dbUri: string; modelUri: string; print: (line: string) => void }): Promise<void> {
  const { print } = options;
  const store = await openStore(options.dbUri);
  const model = await loadClipModel(options.modelUri, { provider: 'cpu', logger: () => undefined });
  try {
    const show = (title: string, response: SearchResponse, filterTags: string[] = []) => {
      const line = (r: SearchResult) => resultLine(r, filterTags);
      print(`\n${title}`);
      if (response.hotels) {
        for (const [i, h] of response.hotels.entries()) {
          print(`  ${i + 1}. ${hotelName(h.hotelId)}  (best ${h.score.toFixed(3)})`);
          for (const r of h.images) print(`       ${line(r)}`);
        }
      } else {
        for (const [i, r] of response.results.entries()) print(`  ${i + 1}. ${line(r)}`);
      }
      if (response.results.length === 0) print('  (nothing matched)');
    };

    const similar = await similarTo(store, SEED_IMAGE, { k: 5 });
    show(`Similar to ${SEED_IMAGE} (${hotelName(DEMO_HOTELS[0].id)}):  similarTo(store, '${SEED_IMAGE}', { k: 5 })`, similar);

    const text = 'a swimming pool with sun loungers';
    show(`Text "${text}":  searchByText(store, model, text, { k: 5 })`, await searchByText(store, model, text, { k: 5 }));

    const tag = similar.results.flatMap((r) => r.tags)[0];
    if (tag) {
      const query = 'a bright hotel room';
      show(`Text "${query}" with tag "${tag}":  searchByText(store, model, text, { k: 5, tags: ['${tag}'] })`, await searchByText(store, model, query, { k: 5, tags: [tag] }), [tag]);
    }

    show(`More like what a user liked (${LIKED.join(', ')}):  searchLiked(store, liked, { k: 5 })`, await searchLiked(store, LIKED, { k: 5 }));

    const hotelsQuery = 'hotel with a view of snowy mountains';
    show(`Hotels for "${hotelsQuery}":  searchByText(store, model, text, { k: 3, byHotel: true })`, await searchByText(store, model, hotelsQuery, { k: 3, byHotel: true, perHotel: 2 }));
  } finally {
    await model.close();
    store.close();
  }
}

function hotelName(hotelId: string | null): string {
  const hotel = DEMO_HOTELS.find((h) => h.id === hotelId);
  return hotel ? `${hotel.name}, ${hotel.city}` : (hotelId ?? 'no hotel');
}

const SHOWN_TAGS = 5;

/** One result; tags a filter asked for come first, so the reader can see why the row matched. */
function resultLine(r: SearchResult, filterTags: string[]): string {
  const where = `${path.basename(path.dirname(r.sourceUri))}/${path.basename(r.sourceUri)}`;
  const ordered = tagsFilterFirst(r.tags, filterTags);
  const more = ordered.length > SHOWN_TAGS ? ` +${ordered.length - SHOWN_TAGS}` : '';
  return `${r.score.toFixed(3)}  ${r.seoFilename}  [${ordered.slice(0, SHOWN_TAGS).join(', ')}${more}]  ${where}`;
}
