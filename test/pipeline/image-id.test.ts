/** One local file is one image, however its URI is written; remote ids never change. */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { canonicalImageUri, imageIdFromUri } from '../../lib/core/image-id';
import { parseShardLine } from '../../lib/core/pipeline/shard-reader';
import { seoFilename } from '../../lib/core/naming/seo';

const legacyId = (uri: string) => createHash('sha256').update(uri).digest('hex').slice(0, 24);

describe('image ids of local files', () => {
  const file = path.join(path.sep, 'catalog', 'hotel-1', 'pool.jpg');
  const spellings = [
    file,
    `file://${file}`,
    path.join(path.sep, 'catalog', 'hotel-2') + '/../hotel-1/pool.jpg',
    path.relative(process.cwd(), file),
    `file://${file.replace('pool', '%70ool')}`,
  ];

  it('give one id for a plain path, a file:// URL, a path with ../ and a relative path', () => {
    expect(new Set(spellings.map(canonicalImageUri))).toEqual(new Set([file]));
    expect(new Set(spellings.map(imageIdFromUri))).toEqual(new Set([imageIdFromUri(file)]));
  });

  it('and so one SEO name, through the shard reader', () => {
    const names = spellings.map((uri, i) => {
      const entry = parseShardLine(JSON.stringify({ uri }), i) as { imageId: string };
      return seoFilename({ imageId: entry.imageId, tags: ['pool'], hotelName: 'Hotel One', format: 'jpeg' });
    });
    expect(new Set(names).size).toBe(1);
  });

  it('keep the ids stores already hold for absolute normal paths and remote URIs', () => {
    for (const uri of [file, 's3://bucket/a/../b.jpg', 'https://cdn.example.com/x/./y.jpg', 'file://host/share/x.jpg']) {
      expect(imageIdFromUri(uri)).toBe(legacyId(uri));
    }
  });
});
