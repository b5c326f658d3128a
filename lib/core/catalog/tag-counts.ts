/** How many stored images carry each tag, read as one streamed pass over the tags column. */
import type * as lancedb from '@lancedb/lancedb';
import type { List, Utf8, Vector } from 'apache-arrow';
import { ResultColumn as C } from '../pipeline/schema';
import { scanBatches } from './scan';

export interface TagCounts {
  rows: number;
  /** tag → images carrying it (tags no longer in the taxonomy included). */
  counts: Map<string, number>;
  /** taxonomy_id → rows tagged with it: more than one while a re-tag is under way. */
  taxonomies: Map<string, number>;
}

export function addTagCounts(counts: Map<string, number>, tagsColumn: Vector<List<Utf8>>): void {
  for (let i = 0; i < tagsColumn.length; i++) {
    const tags = tagsColumn.get(i);
    if (!tags) continue;
    for (let j = 0; j < tags.length; j++) {
      const tag = tags.get(j) as string;
      counts.set(tag, (counts.get(tag) ?? 0) + 1);
    }
  }
}

export async function countTags(table: lancedb.Table, where?: string): Promise<TagCounts> {
  const result: TagCounts = { rows: 0, counts: new Map(), taxonomies: new Map() };
  for await (const batch of scanBatches(table, { columns: [C.tags, C.taxonomyId], where })) {
    result.rows += batch.numRows;
    addTagCounts(result.counts, batch.getChild(C.tags) as Vector<List<Utf8>>);
    const ids = batch.getChild(C.taxonomyId)!;
    for (let i = 0; i < ids.length; i++) {
      const id = ids.get(i) as string;
      result.taxonomies.set(id, (result.taxonomies.get(id) ?? 0) + 1);
    }
  }
  return result;
}
