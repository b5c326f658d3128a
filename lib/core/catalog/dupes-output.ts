/**
 * Writes a dupes report: JSON (the report, groups with their members) or CSV (one line per
 * member, for a spreadsheet or a `\copy`), group by group through an OutputFile or to stdout.
 */
import { openOutputFile } from '../io/output-file';
import { csvField } from './csv-field';
import type { DupesReport } from './dupes';

export const DUPES_FORMATS = ['json', 'csv'] as const;
export type DupesFormat = (typeof DUPES_FORMATS)[number];

export const DUPES_CSV_HEADER = ['group', 'kind', 'scope', 'representative', 'is_representative', 'image_id', 'hotel_id', 'content_sha256', 'width', 'height'];

export async function* dupesLines(report: DupesReport, format: DupesFormat): AsyncGenerator<string> {
  if (format === 'csv') {
    yield DUPES_CSV_HEADER.join(',') + '\n';
    for (const g of report.groups) {
      for (const m of g.members) {
        const fields = [String(g.group), g.kind, g.scope, g.representative, String(m.imageId === g.representative), m.imageId, m.hotelId ?? '', m.contentSha256, String(m.width), String(m.height)];
        yield fields.map(csvField).join(',') + '\n';
      }
    }
    return;
  }
  const { groups, ...summary } = report;
  yield `{"summary":${JSON.stringify(summary)},"groups":[`;
  for (let i = 0; i < groups.length; i++) yield `${i ? ',' : ''}\n${JSON.stringify(groups[i])}`;
  yield '\n]}\n';
}

/** To `out` (temporary name, renamed when complete), or to stdout when `out` is undefined. */
export async function writeDupes(report: DupesReport, format: DupesFormat, out?: string): Promise<void> {
  if (!out) {
    for await (const line of dupesLines(report, format)) process.stdout.write(line);
    return;
  }
  const file = await openOutputFile(out);
  try {
    for await (const line of dupesLines(report, format)) await file.write(line);
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
}
