/** Zero-shot tagging: taxonomy → label bank (cached text embeddings) → per-image tagger. */
export { DEFAULT_TEMPLATES, parseTaxonomy, type Taxonomy, type TaxonomyCategory, type TaxonomyLabel } from './taxonomy-schema';
export {
  DEFAULT_THRESHOLD,
  bankRows,
  canonicalJson,
  defaultTaxonomy,
  loadTaxonomy,
  resolveTaxonomy,
  taxonomyId,
  type BankRow,
  type ResolvedCategory,
  type ResolvedLabel,
} from './taxonomy';
export { computeLabelBank, getLabelBank, labelBankUri, type LabelBank } from './label-bank';
export { decodeLabelBank, encodeLabelBank } from './label-bank-file';
export { checkLogitScale, makeTagger, planTagging, type CategoryScores, type TagPlan, type TagResult, type Tagger } from './scorer';
export { checkKnownTags, closestTags, normalizeTagInput } from './closest';
