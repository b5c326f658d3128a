/**
 * Loading a taxonomy, naming it, and resolving it into what the label bank and the scorer use:
 * per label its final prompts and threshold, per category its background prompts.
 */
import { createHash } from 'node:crypto';
import { SystemErrorCode, VistaError } from '../errors';
import { readText } from '../io/location';
import bundledTaxonomy from './default-taxonomy.json';
import { DEFAULT_TEMPLATES, parseTaxonomy, type Taxonomy } from './taxonomy-schema';

/** Threshold used when neither the label nor its category sets one. */
export const DEFAULT_THRESHOLD = 0.5;

export interface ResolvedLabel {
  /** The tag (a slug). */
  name: string;
  display: string;
  prompts: string[];
  threshold: number;
}

export interface ResolvedCategory {
  name: string;
  exclusive: boolean;
  labels: ResolvedLabel[];
  /** Empty: no "none of these" class (exclusive categories only). */
  background: string[];
}

/** One row of the label bank: a label, or a category's background (`label: null`). */
export interface BankRow {
  category: string;
  label: string | null;
}

/** The bundled hotel taxonomy. */
export function defaultTaxonomy(): Taxonomy {
  return parseTaxonomy(bundledTaxonomy, 'bundled default-taxonomy.json');
}

/** Reads and validates a taxonomy file (local path or s3:// URI); no URI: the bundled one. */
export async function loadTaxonomy(uri?: string): Promise<Taxonomy> {
  if (uri === undefined) return defaultTaxonomy();
  let text: string;
  try {
    text = await readText(uri);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new VistaError(SystemErrorCode.TAXONOMY_INVALID, `cannot read taxonomy ${uri}: ${reason}`, { cause: err, details: { uri } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new VistaError(SystemErrorCode.TAXONOMY_INVALID, `taxonomy ${uri} is not valid JSON: ${reason}`, { cause: err, details: { uri } });
  }
  return parseTaxonomy(value, uri);
}

/** JSON with object keys sorted at every level: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * `<id or "taxonomy">@<12 hex of sha256(canonical JSON)>`: changes whenever anything that can
 * change a tag changes (prompts, thresholds, labels), and only then — key order and whitespace
 * of the file don't matter.
 */
export function taxonomyId(taxonomy: Taxonomy): string {
  const hash = createHash('sha256').update(canonicalJson(taxonomy)).digest('hex').slice(0, 12);
  return `${taxonomy.id ?? 'taxonomy'}@${hash}`;
}

/** "family-room" → "family room" */
function displayFromSlug(slug: string): string {
  return slug.replace(/-/g, ' ');
}

export function resolveTaxonomy(taxonomy: Taxonomy): ResolvedCategory[] {
  return taxonomy.categories.map((category) => {
    const templates = category.templates ?? taxonomy.templates ?? DEFAULT_TEMPLATES;
    return {
      name: category.name,
      exclusive: category.exclusive,
      background: category.background ?? taxonomy.background ?? [],
      labels: category.labels.map((label) => {
        const display = label.display ?? displayFromSlug(label.name);
        // Templates read better with the lowercase display name ("a photo of a family room.").
        const fill = (text: string) => text.split('{label}').join(display.toLowerCase());
        return {
          name: label.name,
          display,
          prompts: (label.prompts ?? templates).map(fill),
          threshold: label.threshold ?? category.threshold ?? DEFAULT_THRESHOLD,
        };
      }),
    };
  });
}

/** Row order of the label bank: each category's labels, then its background row if it has one. */
export function bankRows(categories: ResolvedCategory[]): BankRow[] {
  const rows: BankRow[] = [];
  for (const category of categories) {
    for (const label of category.labels) rows.push({ category: category.name, label: label.name });
    if (category.background.length > 0) rows.push({ category: category.name, label: null });
  }
  return rows;
}
