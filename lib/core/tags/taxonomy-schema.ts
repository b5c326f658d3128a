/**
 * The taxonomy file format and its validation. A taxonomy names the tags Vista can emit and the
 * text prompts CLIP compares images with. Every mistake is reported with the path of the bad
 * field (`categories[2].labels[5].name`) so a taxonomy author can fix it without reading code.
 */
import { z } from 'zod';
import { SystemErrorCode, VistaError } from '../errors';

/** Used when a label has no prompts and neither its category nor the taxonomy has templates. */
export const DEFAULT_TEMPLATES = ['a photo of a {label}.', 'a photo of a hotel {label}.'];

const TAG_SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const CATEGORY_NAME = /^[a-z0-9]+([_-][a-z0-9]+)*$/;
const TAXONOMY_ID = /^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$/;

const probability = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
const prompt = z.string().trim().min(1, 'must not be empty').max(300, 'must be at most 300 characters');
const template = prompt.refine((t) => t.includes('{label}'), 'must contain "{label}"');

const labelSchema = z.strictObject({
  name: z.string().regex(TAG_SLUG, 'must be a lowercase slug like "ocean-view"'),
  display: z.string().trim().min(1).max(100).optional(),
  /** Replaces the templates for this label. `{label}` is replaced by the display name. */
  prompts: z.array(prompt).min(1, 'must have at least one prompt').optional(),
  /** Minimum probability to emit this label (overrides the category's). */
  threshold: probability.optional(),
});

const categorySchema = z.strictObject({
  name: z.string().regex(CATEGORY_NAME, 'must be lowercase letters, digits, "_" or "-" like "room_type"'),
  description: z.string().optional(),
  /** true: at most one label (softmax over the labels); false: each label on its own. */
  exclusive: z.boolean(),
  threshold: probability.optional(),
  templates: z.array(template).min(1, 'must have at least one template').optional(),
  /** The "none of these" prompts the labels compete against; [] disables it (exclusive only). */
  background: z.array(prompt).optional(),
  labels: z.array(labelSchema).min(1, 'must have at least one label'),
});

const taxonomyFields = z.strictObject({
  id: z.string().regex(TAXONOMY_ID, 'must be letters, digits, ".", "_" or "-"').max(64).optional(),
  version: z.number().int('must be an integer').min(1, 'must be at least 1'),
  description: z.string().optional(),
  templates: z.array(template).min(1, 'must have at least one template').optional(),
  background: z.array(prompt).optional(),
  categories: z.array(categorySchema).min(1, 'must have at least one category'),
});

export const taxonomySchema = taxonomyFields.superRefine((t, ctx) => {
  const categoryNames = new Map<string, number>();
  const labelNames = new Map<string, string>();
  t.categories.forEach((category, ci) => {
    const at = ['categories', ci];
    if (categoryNames.has(category.name)) {
      ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `duplicate category "${category.name}"` });
    }
    categoryNames.set(category.name, ci);

    const background = category.background ?? t.background ?? [];
    if (!category.exclusive && background.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: [...at, 'background'],
        message: 'a multi-label category needs background prompts (here or at the top level) to score its labels against',
      });
    }
    if (category.exclusive && category.labels.length + (background.length > 0 ? 1 : 0) < 2) {
      ctx.addIssue({
        code: 'custom',
        path: [...at, 'labels'],
        message: 'an exclusive category needs at least two labels, or one label and background prompts',
      });
    }
    category.labels.forEach((label, li) => {
      const owner = labelNames.get(label.name);
      if (owner !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'labels', li, 'name'],
          message: `duplicate tag "${label.name}" (already in category "${owner}"); tags must be unique across the taxonomy`,
        });
      }
      labelNames.set(label.name, category.name);
    });
  });
});

export type Taxonomy = z.output<typeof taxonomySchema>;
export type TaxonomyCategory = Taxonomy['categories'][number];
export type TaxonomyLabel = TaxonomyCategory['labels'][number];

/** `['categories', 2, 'labels', 5, 'name']` → `categories[2].labels[5].name` */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Validates a parsed JSON value; throws VistaError(TAXONOMY_INVALID) listing every bad field. */
export function parseTaxonomy(value: unknown, source = 'taxonomy'): Taxonomy {
  const result = taxonomySchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const shown = issues.slice(0, 10).map((i) => `${i.path}: ${i.message}`);
  if (issues.length > shown.length) shown.push(`… and ${issues.length - shown.length} more`);
  throw new VistaError(SystemErrorCode.TAXONOMY_INVALID, `invalid taxonomy (${source}): ${shown.join('; ')}`, {
    details: { source, issues },
  });
}
