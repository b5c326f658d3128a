import { countTags } from '../../core/catalog/tag-counts';
import { imagesTable } from '../../core/catalog/scan';
import { openStore } from '../../core/store/connect';
import { loadTaxonomy, resolveTaxonomy, taxonomyId } from '../../core/tags';
import { type CliCommand, stringOpt } from '../command';

const USAGE = [
  'vista tags [--taxonomy T.json] [--db DIR|s3://…] [--json]',
  '',
  '  --taxonomy FILE   taxonomy to print (default: the bundled hotel taxonomy)',
  '  --db URI          also count how many stored images carry each tag (one streamed pass)',
  '  --json            JSON instead of a table',
  '',
  'Every tag Vista can emit, by category, with its threshold (exclusive categories: at most one',
  'tag per image). With --db, tags found in the store but not in the taxonomy are listed too.',
].join('\n');

export const command: CliCommand = {
  name: 'tags',
  summary: 'The taxonomy: categories, tags, thresholds, and with --db how many images carry each tag',
  usage: USAGE,
  options: { taxonomy: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' } },
  async run(values) {
    const taxonomy = await loadTaxonomy(stringOpt(values, 'taxonomy'));
    const categories = resolveTaxonomy(taxonomy);
    const db = stringOpt(values, 'db');
    let counts: Awaited<ReturnType<typeof countTags>> | undefined;
    if (db) {
      const store = await openStore(db);
      try {
        counts = await countTags(await imagesTable(store));
      } finally {
        store.close();
      }
    }
    const known = new Set(categories.flatMap((c) => c.labels.map((l) => l.name)));
    const unknown = counts ? [...counts.counts].filter(([tag]) => !known.has(tag)) : [];
    if (values.json === true) {
      console.log(
        JSON.stringify(
          {
            taxonomyId: taxonomyId(taxonomy),
            categories: categories.map((c) => ({
              name: c.name,
              exclusive: c.exclusive,
              labels: c.labels.map((l) => ({ name: l.name, display: l.display, threshold: l.threshold, ...(counts ? { count: counts.counts.get(l.name) ?? 0 } : {}) })),
            })),
            ...(counts ? { rows: counts.rows, storeTaxonomies: Object.fromEntries(counts.taxonomies), notInTaxonomy: Object.fromEntries(unknown) } : {}),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const lines = [`taxonomy ${taxonomyId(taxonomy)}: ${known.size} tags in ${categories.length} categories`];
    if (counts) lines.push(`store ${db}: ${counts.rows} images; tagged with ${[...counts.taxonomies].map(([id, n]) => `${id} (${n})`).join(', ') || '-'}`);
    for (const c of categories) {
      lines.push('', `${c.name} (${c.exclusive ? 'exclusive: at most one' : 'multi-label'})`);
      for (const l of c.labels) {
        const count = counts ? `  ${String(counts.counts.get(l.name) ?? 0).padStart(9)}` : '';
        lines.push(`  ${l.name.padEnd(24)} threshold ${l.threshold.toFixed(2)}${count}`);
      }
    }
    if (unknown.length > 0) {
      lines.push('', 'in the store but not in this taxonomy:');
      for (const [tag, n] of unknown) lines.push(`  ${tag.padEnd(24)} ${' '.repeat(14)}  ${String(n).padStart(9)}`);
    }
    console.log(lines.join('\n'));
    return 0;
  },
};
