/**
 * A batch's embedding column as packed float32, read straight from the Arrow buffers: float16
 * stores (the default) are decoded through a 65,536-entry table, float32 ones copied as is.
 */
import { type Data, DataType, type FixedSizeList, Precision, type Vector, util } from 'apache-arrow';

let halfTable: Float32Array | undefined;

function float16Table(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65_536);
    for (let bits = 0; bits < 65_536; bits++) halfTable[bits] = util.uint16ToFloat64(bits);
  }
  return halfTable;
}

export interface PackedEmbeddings {
  dim: number;
  rows: number;
  /** rows × dim, row-major. */
  values: Float32Array;
}

export function packedEmbeddings(column: Vector): PackedEmbeddings {
  const dim = (column.type as FixedSizeList).listSize;
  const values = new Float32Array(column.length * dim);
  let row = 0;
  for (const data of column.data as Data<FixedSizeList>[]) {
    const child = data.children[0] as Data<DataType>;
    // Arrow JS slices a list's child along with it, and `values` starts at the slice.
    const start = 0;
    const count = data.length * dim;
    // Checked by value, not instanceof: LanceDB may hand back types of its own apache-arrow copy.
    if (DataType.isFloat(child.type) && child.type.precision === Precision.HALF) {
      const bits = child.values as Uint16Array;
      const table = float16Table();
      for (let k = 0; k < count; k++) values[row * dim + k] = table[bits[start + k]];
    } else {
      values.set((child.values as Float32Array).subarray(start, start + count), row * dim);
    }
    row += data.length;
  }
  return { dim, rows: column.length, values };
}
