/** Runs one export in its own process and prints its figures, peak RSS included (bench/catalog.ts). */
import { exportImages, type ExportFormat } from '../lib/core/catalog/export';
import { imagesTable } from '../lib/core/catalog/scan';
import { openStore } from '../lib/core/store/connect';

async function main(): Promise<void> {
  const [db, out, format] = process.argv.slice(2);
  const store = await openStore(db);
  try {
    const table = await imagesTable(store);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const report = await exportImages(table, { format: format as ExportFormat, out });
    const seconds = (performance.now() - started) / 1000;
    // CPU seconds of the export alone (LanceDB's scan threads included, module loading not):
    // steadier than wall time on a shared machine.
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    // resourceUsage().maxRSS is in KiB.
    const peakRssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify({ format, rows: report.rows, bytes: report.bytes, seconds, rowsPerSecond: report.rows / seconds, cpuSeconds, rowsPerCpuSecond: report.rows / cpuSeconds, peakRssMiB }));
  } finally {
    store.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
