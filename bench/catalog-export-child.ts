/** Runs one export in its own process and prints its figures, peak RSS included (bench/catalog.ts). */
import { exportImages, type ExportFormat } from '../lib/core/catalog/export';
import { imagesTable } from '../lib/core/catalog/scan';
import { openStore } from '../lib/core/store/connect';

async function main(): Promise<void> {
  const [db, out, format] = process.argv.slice(2);
  const store = await openStore(db);
  try {
    const started = performance.now();
    const report = await exportImages(await imagesTable(store), { format: format as ExportFormat, out });
    const seconds = (performance.now() - started) / 1000;
    // resourceUsage().maxRSS is in KiB.
    const usage = process.resourceUsage();
    const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    console.log(JSON.stringify({ rows: report.rows, bytes: report.bytes, seconds, rowsPerSecond: report.rows / seconds, cpuSeconds, peakRssMiB: usage.maxRSS / 1024 }));
  } finally {
    store.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
