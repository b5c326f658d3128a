import { FixedSizeList, Float32, RecordBatch, Schema, Struct, Table, makeData, tableToIPC, vectorFromArray } from 'apache-arrow';
import { readArrowFile, rowsToArrowFile } from '../../lib/core/pipeline/arrow-rows';
import { ResultColumn as C, resultSchema } from '../../lib/core/pipeline/schema';
import type { EnrichedImage } from '../../lib/core/types';

const DIM = 4;

/** The part file as apache-arrow's own builders write it (the writer before the bulk columns): the reference. */
function referenceArrowFile(rows: EnrichedImage[], embedDim: number): Uint8Array {
  const schema = resultSchema(embedDim);
  const column = (name: string, values: unknown[]) => vectorFromArray(values as never, schema.fields.find((f) => f.name === name)!.type).data[0];
  const packed = new Float32Array(rows.length * embedDim);
  rows.forEach((row, i) => packed.set(row.embedding, i * embedDim));
  const embeddingType = schema.fields.find((f) => f.name === C.embedding)!.type as FixedSizeList<Float32>;
  const values: Record<string, unknown[]> = {
    [C.imageId]: rows.map((r) => r.imageId),
    [C.sourceUri]: rows.map((r) => r.sourceUri),
    [C.hotelId]: rows.map((r) => r.hotelId ?? null),
    [C.hotelName]: rows.map((r) => r.hotelName ?? null),
    [C.city]: rows.map((r) => r.city ?? null),
    [C.seoFilename]: rows.map((r) => r.seoFilename),
    [C.tags]: rows.map((r) => r.tags),
    [C.tagScores]: rows.map((r) => Float32Array.from(r.tagScores)),
    [C.width]: rows.map((r) => r.width),
    [C.height]: rows.map((r) => r.height),
    [C.format]: rows.map((r) => r.format),
    [C.contentSha256]: rows.map((r) => r.contentSha256),
    [C.modelId]: rows.map((r) => r.modelId),
    [C.taxonomyId]: rows.map((r) => r.taxonomyId),
    [C.processedAt]: rows.map((r) => r.processedAt),
  };
  const children = schema.fields.map((f) =>
    f.name === C.embedding
      ? makeData({ type: embeddingType, length: rows.length, nullCount: 0, child: makeData({ type: embeddingType.children[0].type, length: packed.length, nullCount: 0, data: packed }) })
      : column(f.name, values[f.name]),
  );
  const struct = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return tableToIPC(new Table(schema as Schema, [new RecordBatch(schema, struct)]), 'file');
}

function rows(n: number): EnrichedImage[] {
  return Array.from({ length: n }, (_, i) => ({
    imageId: `img-${i}`,
    sourceUri: i % 7 === 0 ? `s3://bucket/été/${i}.jpg` : `s3://bucket/k/${i}.jpg`,
    ...(i % 3 ? { hotelId: `h${i}` } : {}),
    ...(i % 5 ? { hotelName: i % 11 ? 'Grand Hôtel Métropole' : 'Plain Inn' } : {}),
    ...(i % 2 ? { city: 'Nice' } : {}),
    seoFilename: `grand-hotel-${i}.jpg`,
    tags: Array.from({ length: i % 4 }, (_, k) => (i % 13 === 0 ? `tag-${k}-ü` : `tag-${k}`)),
    tagScores: Array.from({ length: i % 4 }, (_, k) => 0.1 * k + 1e-9 * i + 1 / 3),
    embedding: Float32Array.from({ length: DIM }, (_, k) => Math.sin(i * 7 + k)),
    width: 100 + i,
    height: 200 + i,
    format: i % 2 ? 'jpeg' : 'png',
    contentSha256: i.toString(16).padStart(64, '0'),
    modelId: 'tiny@abc',
    taxonomyId: 'hotel@1',
    processedAt: new Date(1_700_000_000_000 + i),
  }));
}

describe('rowsToArrowFile', () => {
  it.each([
    ['mixed nulls, unicode and empty tag lists', rows(300)],
    ['one row with no hotel, name or city', rows(1)],
    ['every optional column set, all ASCII', rows(300).filter((_, i) => i % 2 === 1 && i % 3 !== 0 && i % 5 !== 0 && i % 7 !== 0 && i % 11 !== 0 && i % 13 !== 0)],
    ['more rows than one 64-byte validity block covers', rows(700)],
  ])('writes the same bytes as apache-arrow builders: %s', (_, input) => {
    expect(Buffer.from(rowsToArrowFile(input, DIM)).equals(Buffer.from(referenceArrowFile(input, DIM)))).toBe(true);
  });

  it('reads back every value', () => {
    const input = rows(40);
    const table = readArrowFile(rowsToArrowFile(input, DIM));
    expect(table.numRows).toBe(40);
    input.forEach((r, i) => {
      const row = table.get(i)!.toJSON();
      expect(row[C.imageId]).toBe(r.imageId);
      expect(row[C.sourceUri]).toBe(r.sourceUri);
      expect(row[C.hotelName]).toBe(r.hotelName ?? null);
      expect(row[C.city]).toBe(r.city ?? null);
      expect([...row[C.tags]]).toEqual(r.tags);
      expect([...row[C.tagScores]]).toEqual([...Float32Array.from(r.tagScores)]);
      expect([...row[C.embedding]]).toEqual([...r.embedding]);
      expect(row[C.width]).toBe(r.width);
      expect(row[C.processedAt]).toBe(r.processedAt.getTime());
    });
  });
});
