/**
 * A model's identity, `<folder name>@<12 hex>`: SHA-256 over config.json and, for each ONNX file,
 * its size and first and last MiB. Cheap on a 600 MB model yet changes whenever the weights do
 * (a retrained or re-exported model changes its size, header or tail).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MODEL_FILES } from './model-files';

const SAMPLE_BYTES = 1 << 20;

export async function computeModelId(name: string, dir: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await fs.readFile(path.join(dir, MODEL_FILES.config)));
  for (const file of [MODEL_FILES.vision, MODEL_FILES.text]) {
    const handle = await fs.open(path.join(dir, file), 'r');
    try {
      const { size } = await handle.stat();
      hash.update(`${file}:${size}\n`);
      const head = Buffer.alloc(Math.min(size, SAMPLE_BYTES));
      await handle.read(head, 0, head.length, 0);
      const tail = Buffer.alloc(Math.min(size, SAMPLE_BYTES));
      await handle.read(tail, 0, tail.length, size - tail.length);
      hash.update(head).update(tail);
    } finally {
      await handle.close();
    }
  }
  return `${name}@${hash.digest('hex').slice(0, 12)}`;
}
