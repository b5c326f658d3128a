import { checkKnownTags, closestTags, normalizeTagInput } from '../../lib/core/tags/closest';
import { defaultTaxonomy, resolveTaxonomy } from '../../lib/core/tags';

const labels = resolveTaxonomy(defaultTaxonomy()).flatMap((c) => c.labels.map((l) => l.name));

test('normalizes spelling variants to the slug form', () => {
  expect(normalizeTagInput('  Ocean_View ')).toBe('ocean-view');
  expect(normalizeTagInput('Café Bar')).toBe('cafe-bar');
});

test('names the taxonomy labels closest to a near miss or a word of them', () => {
  expect(closestTags('ocean-veiw', labels)[0]).toBe('ocean-view');
  expect(closestTags('Ocean View', labels)[0]).toBe('ocean-view');
  expect(closestTags('pool', labels)).toEqual(expect.arrayContaining([expect.stringMatching(/pool/)]));
  expect(closestTags('x', [], 3)).toEqual([]);
});

test('checkKnownTags passes known tags and lists every unknown one with suggestions', () => {
  const known = new Set(labels);
  expect(() => checkKnownTags(['ocean-view'], known)).not.toThrow();
  expect(() => checkKnownTags(['ocean-veiw', 'sea-veiw'], known)).toThrow(/unknown tag "ocean-veiw" \(closest: ocean-view.*unknown tag "sea-veiw"/);
});
