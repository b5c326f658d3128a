/**
 * The label bank's cache file: one self-describing file, so a single atomic write publishes it
 * (a .json + .bin pair could be seen half-updated by a concurrent reader).
 *
 *   "VLB1" | uint32 LE header length | header JSON (utf8) | zero padding to 4 bytes | float32 LE rows × dim
 *
 * The header (format 2) records the model and taxonomy ids (content hashes) the bank was built
 * for and the sha256 of its vectors: a file whose vectors were changed after it was written is
 * refused (LABEL_BANK_INVALID), not used. The checksum catches corruption and careless edits; a
 * writer that recomputes it is caught by getLabelBank's spot check against the model.
 */
import { createHash } from 'node:crypto';
import { SystemErrorCode, VistaError } from '../errors';
import type { BankRow } from './taxonomy';

export interface LabelBank {
  modelId: string;
  taxonomyId: string;
  dim: number;
  rows: BankRow[];
  /** rows × dim, row-major; each row L2-normalized. */
  vectors: Float32Array;
}

const MAGIC = 'VLB1';
const FORMAT_VERSION = 2;

interface Header {
  format: number;
  modelId: string;
  taxonomyId: string;
  dim: number;
  rows: BankRow[];
  /** sha256 (hex) of the float32 LE vector bytes. */
  vectorsSha256: string;
}

export function encodeLabelBank(bank: LabelBank): Buffer {
  const data = Buffer.alloc(bank.vectors.length * 4);
  for (let i = 0; i < bank.vectors.length; i++) data.writeFloatLE(bank.vectors[i], i * 4);
  const header: Header = {
    format: FORMAT_VERSION,
    modelId: bank.modelId,
    taxonomyId: bank.taxonomyId,
    dim: bank.dim,
    rows: bank.rows,
    vectorsSha256: sha256(data),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const dataOffset = align4(8 + headerBytes.length);
  const out = Buffer.alloc(dataOffset + data.length);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(headerBytes.length, 4);
  headerBytes.copy(out, 8);
  data.copy(out, dataOffset);
  return out;
}

/**
 * The bank, or undefined when the bytes are not a complete, well-formed bank file of this format
 * (rebuilt by getLabelBank). Throws LABEL_BANK_INVALID when a well-formed file's vectors do not
 * match its recorded checksum.
 */
export function decodeLabelBank(bytes: Buffer): LabelBank | undefined {
  if (bytes.length < 8 || bytes.toString('latin1', 0, 4) !== MAGIC) return undefined;
  const headerLength = bytes.readUInt32LE(4);
  if (8 + headerLength > bytes.length) return undefined;
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as Header;
  } catch {
    return undefined;
  }
  if (header.format !== FORMAT_VERSION || !Number.isInteger(header.dim) || header.dim <= 0 || !Array.isArray(header.rows)) return undefined;
  const dataOffset = align4(8 + headerLength);
  const count = header.rows.length * header.dim;
  if (bytes.length !== dataOffset + count * 4) return undefined;
  if (typeof header.vectorsSha256 !== 'string' || sha256(bytes.subarray(dataOffset)) !== header.vectorsSha256) {
    throw new VistaError(SystemErrorCode.LABEL_BANK_INVALID, `label bank for ${header.modelId} / ${header.taxonomyId}: its vectors do not match its recorded checksum (changed after it was written)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vectors = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const v = view.getFloat32(dataOffset + i * 4, true);
    if (!Number.isFinite(v)) return undefined;
    vectors[i] = v;
  }
  return { modelId: header.modelId, taxonomyId: header.taxonomyId, dim: header.dim, rows: header.rows, vectors };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
