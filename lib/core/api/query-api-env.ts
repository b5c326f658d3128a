/**
 * The environment of the query API Lambda (lambdas/query-api.ts), set by the CDK construct
 * (lib/infra/explorer/) through the function's bind helpers, which grant the matching access.
 */
export const QUERY_API_ENV = {
  /** The LanceDB store, s3://bucket/db (read only). */
  dbUri: 'VISTA_DB_URI',
  /** Comma-separated s3://bucket/prefix/ under which thumbnails may be pre-signed. */
  thumbnailPrefixes: 'VISTA_THUMBNAIL_PREFIXES',
  /** The taxonomy file (s3://…); absent: the bundled hotel taxonomy. */
  taxonomyUri: 'VISTA_TAXONOMY_URI',
} as const;

/** The thumbnail prefixes as the Lambda reads them: trimmed, empty entries dropped. */
export function parseThumbnailPrefixes(value: string | undefined): string[] {
  return (value ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}
