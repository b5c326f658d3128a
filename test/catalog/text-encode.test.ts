import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Bool, Field, FixedSizeList, Float16, Float32, Int32, Int64, List, makeData, RecordBatch, Schema, Struct, TimestampMillisecond, Utf8, vectorFromArray, type DataType } from 'apache-arrow';
import { ByteSink } from '../../lib/core/catalog/byte-sink';
import { csvField } from '../../lib/core/catalog/csv-field';
import { openOutputFile } from '../../lib/core/io/output-file';
import { batchEncoder, csvHeader, type TextFormat } from '../../lib/core/catalog/text-encode';

const strings = ['plain', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rhere', 'tab\there', 'ctl\u0001\u001f', 'back\\slash', 'Ålesund 東京 🏨', '', null];
const n = strings.length;
const tags: (string | null)[][] = strings.map((s, i) => (i % 3 === 0 ? [] : [s ?? 'x', 'spa', ...(i % 4 === 0 ? [null] : [])])) as (string | null)[][];
const scores = strings.map((_, i) => [i / 7, Math.fround(0.1 * i)]);
const floats = strings.map((_, i) => (i === 1 ? NaN : i === 2 ? Infinity : Math.fround(i * 1.1)));
const ints = strings.map((_, i) => (i === 4 ? null : i * 1000 - 3));
const bigs = strings.map((_, i) => BigInt(i) * 10_000_000_000n);
const times = strings.map((_, i) => Date.UTC(2025, 0, 1 + (i >> 2), 12, 0, 0, i));
const halves = strings.map((_, i) => [0.5 * i, -0.25]);
const bools = strings.map((_, i) => (i === 3 ? null : i % 2 === 0));

function vector<T extends DataType>(type: T, values: unknown[]) {
  return vectorFromArray(values as never, type);
}

/** A batch with a column of each kind the catalog has, and some it may have one day. */
function batch(): RecordBatch {
  const fields = [
    new Field('s', new Utf8(), true),
    new Field('tags', new List(new Field('item', new Utf8(), true)), true),
    new Field('scores', new List(new Field('item', new Float32(), true)), false),
    new Field('f', new Float32(), false),
    new Field('i', new Int32(), true),
    new Field('big', new Int64(), false),
    new Field('t', new TimestampMillisecond(), false),
    new Field('half', new FixedSizeList(2, new Field('item', new Float16(), false)), false),
    new Field('ok', new Bool(), true),
  ];
  const columns = [
    vector(fields[0].type, strings),
    vector(fields[1].type, tags.map((t, i) => (i === n - 1 ? null : t))),
    vector(fields[2].type, scores),
    vector(fields[3].type, floats),
    vector(fields[4].type, ints),
    vector(fields[5].type, bigs),
    vector(fields[6].type, times),
    vector(fields[7].type, halves),
    vector(fields[8].type, bools),
  ];
  const schema = new Schema(fields);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children: columns.map((c) => c.data[0]) }));
}

/** What each row should read back as: JSON.stringify's view of the values. */
function expectedRow(i: number): Record<string, unknown> {
  return {
    s: strings[i],
    tags: i === n - 1 ? null : tags[i],
    scores: scores[i].map((v) => Math.fround(v)),
    f: Number.isFinite(floats[i]) ? floats[i] : null,
    i: ints[i],
    big: Number(bigs[i]),
    t: new Date(times[i]).toISOString(),
    half: halves[i],
    ok: bools[i],
  };
}

async function encode(format: TextFormat, chunkBytes: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vista-text-'));
  try {
    const file = path.join(dir, `out.${format}`);
    const out = await openOutputFile(file);
    const sink = new ByteSink(out, chunkBytes);
    const b = batch();
    const columns = b.schema.fields.map((f) => f.name);
    if (format === 'csv') csvHeader(columns, sink);
    const encodeRows = batchEncoder(b, columns, format);
    for (let next = 0; next < b.numRows; ) {
      next = encodeRows(sink, next);
      await sink.flush();
    }
    await out.commit();
    return await fs.readFile(file, 'utf8');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** RFC 4180 reader. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  return rows;
}

test.each([1 << 20, 16])('jsonl lines are what JSON.stringify writes, escapes and nulls included (chunks of %i bytes)', async (chunkBytes) => {
  const lines = (await encode('jsonl', chunkBytes)).split('\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(n);
  lines.forEach((line, i) => expect(line).toBe(JSON.stringify(expectedRow(i))));
});

test.each([1 << 20, 16])('csv cells are RFC 4180 quoted and read back (chunks of %i bytes)', async (chunkBytes) => {
  const text = await encode('csv', chunkBytes);
  const [header, ...rows] = parseCsv(text);
  expect(header).toEqual(['s', 'tags', 'scores', 'f', 'i', 'big', 't', 'half', 'ok']);
  expect(rows).toHaveLength(n);
  rows.forEach((row, i) => {
    const e = expectedRow(i);
    const cell = (v: unknown) => (v === null ? '' : typeof v === 'string' ? v : Array.isArray(v) ? JSON.stringify(v) : String(v));
    expect(row).toEqual([cell(e.s), cell(e.tags), cell(e.scores), String(floats[i]), cell(e.i), cell(e.big), cell(e.t), cell(e.half), cell(e.ok)]);
  });
  // Quoted exactly when needed: the line is what csvField writes for each cell.
  const firstLine = text.split('\n')[1];
  const e = expectedRow(0);
  expect(firstLine).toBe([e.s, JSON.stringify(e.tags), JSON.stringify(e.scores), String(floats[0]), String(e.i), String(e.big), e.t, JSON.stringify(e.half), String(e.ok)].map((c) => csvField(c as string)).join(','));
});
