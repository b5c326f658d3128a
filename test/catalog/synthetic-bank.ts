/** A small taxonomy and a label bank of random unit vectors for it, for stores of synthetic rows. */
import { seededRandom } from '../../lib/core/random';
import { bankRows, parseTaxonomy, resolveTaxonomy, taxonomyId, type LabelBank, type Taxonomy } from '../../lib/core/tags';

export function syntheticTaxonomy(threshold = 0.3, version = 1): Taxonomy {
  return parseTaxonomy({
    id: 'synthetic',
    version,
    background: ['a photo.'],
    categories: [
      { name: 'room', exclusive: true, threshold, labels: [{ name: 'suite' }, { name: 'twin-room' }, { name: 'dormitory' }] },
      { name: 'features', exclusive: false, threshold, labels: [{ name: 'pool' }, { name: 'spa' }, { name: 'gym' }, { name: 'sea-view' }, { name: 'balcony' }] },
    ],
  });
}

export function syntheticBank(taxonomy: Taxonomy, dim: number, modelId = 'synthetic', seed = 9): LabelBank {
  const rows = bankRows(resolveTaxonomy(taxonomy));
  const random = seededRandom(seed);
  const vectors = new Float32Array(rows.length * dim);
  for (let r = 0; r < rows.length; r++) {
    const row = vectors.subarray(r * dim, (r + 1) * dim);
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += (row[k] = random() - 0.5) ** 2;
    for (let k = 0; k < dim; k++) row[k] /= Math.sqrt(sum);
  }
  return { modelId, taxonomyId: taxonomyId(taxonomy), dim, rows, vectors };
}
