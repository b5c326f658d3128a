/** Runs one export in its own process and prints its figures, peak RSS included (bench/catalog.ts). */
import { readFileSync } from 'node:fs';
import { exportImages, type ExportFormat } from '../lib/core/catalog/export';
import { imagesTable } from '../lib/core/catalog/scan';
import { openStore } from '../lib/core/store/connect';

/**
 * This process's own peak RSS in KiB. Not getrusage's maxRSS: Linux carries the parent's RSS at
 * fork over exec into it (fs/exec.c keeps the old mm's high-water mark), so a child started by
 * the bench after building a store reported the bench's memory, not the export's. VmHWM is the
 * high-water mark of this process's own address space.
 */
function peakRssKiB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

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
    const peakRssMiB = peakRssKiB() / 1024;
    console.log(JSON.stringify({ format, rows: report.rows, bytes: report.bytes, seconds, rowsPerSecond: report.rows / seconds, cpuSeconds, rowsPerCpuSecond: report.rows / cpuSeconds, peakRssMiB }));
  } finally {
    store.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
