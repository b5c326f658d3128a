/**
 * The demo's sample catalog: a few hundred synthetic pictures of made-up hotels (JPEG, PNG and
 * WebP, several sizes), a handful of broken files so the error path shows, and a JSONL
 * manifest that also holds a duplicate, a blank and an invalid line for the shard report.
 * Deterministic: the same count gives the same files.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { seeded } from './canvas';
import { drawScene, type Scene } from './scenes';

export interface DemoHotel {
  id: string;
  name: string;
  city: string;
  scenes: Scene[];
}

export const DEMO_HOTELS: DemoHotel[] = [
  { id: 'h-001', name: "Hôtel Côte d'Azur", city: 'Nice', scenes: ['beach', 'pool', 'room', 'restaurant'] },
  { id: 'h-002', name: 'Grand Hotel Zürich', city: 'Zürich', scenes: ['room', 'night', 'restaurant', 'mountain'] },
  { id: 'h-003', name: 'Playa Serena Resort', city: 'Málaga', scenes: ['beach', 'pool', 'pool', 'room'] },
  { id: 'h-004', name: 'Alpenhof Grindelwald', city: 'Grindelwald', scenes: ['mountain', 'room', 'restaurant'] },
  { id: 'h-005', name: 'Skyline Loft Hotel', city: 'New York', scenes: ['night', 'room', 'restaurant'] },
  { id: 'h-006', name: 'Riad Mille Étoiles', city: 'Marrakech', scenes: ['pool', 'room', 'night'] },
  { id: 'h-007', name: 'Pousada São Jorge', city: 'Lisboa', scenes: ['room', 'night', 'beach'] },
  { id: 'h-008', name: 'Fjordhotellet Ålesund', city: 'Ålesund', scenes: ['mountain', 'beach', 'room'] },
];

const FORMATS = ['jpeg', 'jpeg', 'png', 'webp'] as const;
const SIZES = [
  [320, 240],
  [400, 300],
  [240, 320],
  [360, 240],
] as const;

export interface DemoCatalog {
  manifestUri: string;
  imagesDir: string;
  /** Valid pictures written. */
  images: number;
  /** One of them (for the real-time demo). */
  firstPicture: string;
  /** Entries that must fail, with the error code each should get. */
  broken: { uri: string; expect: string }[];
}

export async function generateDemoCatalog(options: { dir: string; count: number; seed?: number }): Promise<DemoCatalog> {
  const imagesDir = path.join(options.dir, 'images');
  await fs.rm(imagesDir, { recursive: true, force: true });
  const random = seeded(options.seed ?? 7);
  const lines: string[] = [];

  const jobs = Array.from({ length: options.count }, (_, i) => {
    const hotel = DEMO_HOTELS[i % DEMO_HOTELS.length];
    const scene = hotel.scenes[Math.floor(random() * hotel.scenes.length)];
    const format = FORMATS[Math.floor(random() * FORMATS.length)];
    const [width, height] = SIZES[Math.floor(random() * SIZES.length)];
    const file = path.join(imagesDir, hotel.id, `${scene}-${String(i).padStart(4, '0')}.${format === 'jpeg' ? 'jpg' : format}`);
    const entry = { uri: file, ...(i % 3 === 0 ? { image_id: `demo-${i}` } : {}), hotel_id: hotel.id, hotel_name: hotel.name, city: hotel.city };
    lines.push(JSON.stringify(entry));
    return { file, scene, format, width, height, seed: Math.floor(random() * 2 ** 31) };
  });
  for (const hotel of DEMO_HOTELS) await fs.mkdir(path.join(imagesDir, hotel.id), { recursive: true });
  for (let i = 0; i < jobs.length; i += 16) {
    await Promise.all(
      jobs.slice(i, i + 16).map(async (job) => {
        const canvas = drawScene(job.scene, job.width, job.height, seeded(job.seed));
        const image = sharp(canvas.data, { raw: { width: job.width, height: job.height, channels: 3 } });
        await image.toFormat(job.format, { quality: 85 }).toFile(job.file);
      }),
    );
  }

  const broken = await writeBrokenFiles(imagesDir, jobs[0].file);
  const hotel = DEMO_HOTELS[0];
  for (const b of broken) lines.push(JSON.stringify({ uri: b.uri, hotel_id: hotel.id, hotel_name: hotel.name, city: hotel.city }));
  // What real manifests contain too: a repeated URI, a blank line, a line that is not an entry.
  lines.splice(5, 0, lines[1], '', '{"image_id": "entry-without-uri"}');

  const manifestUri = path.join(options.dir, 'manifest.jsonl');
  await fs.writeFile(manifestUri, `${lines.join('\n')}\n`);
  return { manifestUri, imagesDir, images: jobs.length, firstPicture: jobs[0].file, broken };
}

async function writeBrokenFiles(imagesDir: string, goodJpeg: string): Promise<DemoCatalog['broken']> {
  const dir = path.join(imagesDir, 'broken');
  await fs.mkdir(dir, { recursive: true });
  const jpeg = await fs.readFile(goodJpeg);
  const files: [string, string | Buffer, string][] = [
    ['truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.4)), 'CORRUPT_IMAGE'],
    ['notes.jpg', 'These are the housekeeping notes, not a picture.\n', 'NOT_AN_IMAGE'],
    ['empty.png', Buffer.alloc(0), 'EMPTY'],
    ['logo.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>', 'UNSUPPORTED_FORMAT'],
  ];
  const broken: DemoCatalog['broken'] = [];
  for (const [name, body, expect] of files) {
    await fs.writeFile(path.join(dir, name), body);
    broken.push({ uri: path.join(dir, name), expect });
  }
  broken.push({ uri: path.join(dir, 'deleted-last-week.jpg'), expect: 'NOT_FOUND' });
  return broken;
}
