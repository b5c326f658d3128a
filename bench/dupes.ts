/**
 * The dupes benchmark: `findDupes` on a store with planted duplicates (time for N rows through
 * the vector index), and its recall against exact all-pairs on a sample store: the pairs at or
 * above the threshold among all n²/2 (compared in memory), and how many of them the indexed run
 * puts in one group.
 */
import { findDupes } from '../lib/core/catalog/dupes';
import { openStore } from '../lib/core/store/connect';
import { buildIndexes } from '../lib/core/store/indexer';

export async function timeDupes(db: string) {
  const index = await buildIndexes({ dbUri: db, minRowsForVectorIndex: 1 });
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const cpuBefore = process.cpuUsage();
    const report = await findDupes(store);
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return {
      rows: report.rows,
      indexSeconds: index.totalMs / 1000,
      search: report.search,
      seconds: report.seconds,
      rowsPerSecond: report.rows / report.seconds,
      cpuSeconds,
      groups: report.groups.length,
      duplicateRows: report.duplicateRows,
      exactPairs: report.exactPairs,
      nearPairs: report.nearPairs,
    };
  } finally {
    store.close();
  }
}

export async function dupesRecall(db: string) {
  await buildIndexes({ dbUri: db, minRowsForVectorIndex: 1 });
  const store = await openStore(db, { readConsistencySeconds: 0 });
  try {
    const truth = new Set<string>();
    const exact = await findDupes(store, { exact: true, onNearPair: (a, b) => void truth.add(a < b ? `${a}\n${b}` : `${b}\n${a}`) });
    const ann = await findDupes(store);
    const groupOf = new Map<string, number>();
    for (const g of ann.groups) for (const m of g.members) groupOf.set(m.imageId, g.group);
    let found = 0;
    for (const pair of truth) {
      const [a, b] = pair.split('\n');
      if (groupOf.has(a) && groupOf.get(a) === groupOf.get(b)) found++;
    }
    return {
      rows: ann.rows,
      truePairs: truth.size,
      pairsFound: found,
      recall: truth.size ? found / truth.size : 1,
      exactSeconds: exact.seconds,
      annSeconds: ann.seconds,
      exactGroups: exact.groups.length,
      annGroups: ann.groups.length,
    };
  } finally {
    store.close();
  }
}
