/**
 * A ClipModel double for tagging tests: each text maps to a deterministic pseudo-random unit
 * vector (so distinct prompts are nearly orthogonal in high dimension) and every call is counted.
 */
import { createHash } from 'node:crypto';
import type { ClipModel } from '../../lib/core/types';

export interface FakeClip extends ClipModel {
  textCalls: string[][];
}

export function textVector(text: string, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let seed = createHash('sha256').update(text).digest().readUInt32LE(0);
  let sum = 0;
  for (let k = 0; k < dim; k++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    v[k] = seed / 2 ** 32 - 0.5;
    sum += v[k] * v[k];
  }
  const norm = Math.sqrt(sum);
  for (let k = 0; k < dim; k++) v[k] /= norm;
  return v;
}

export function fakeClip(options: { id?: string; dim?: number; embedTexts?: (texts: string[]) => Float32Array[] } = {}): FakeClip {
  const dim = options.dim ?? 64;
  const textCalls: string[][] = [];
  return {
    id: options.id ?? 'fake-clip@0123456789ab',
    embedDim: dim,
    preprocess: { resizeShortestEdge: 224, cropSize: 224, mean: [0, 0, 0], std: [1, 1, 1], resample: 'cubic' },
    logitScale: 100,
    provider: 'cpu',
    textCalls,
    async embedImages() {
      throw new Error('not used');
    },
    async embedTexts(texts) {
      textCalls.push(texts);
      return options.embedTexts ? options.embedTexts(texts) : texts.map((t) => textVector(t, dim));
    },
    async close() {},
  };
}
