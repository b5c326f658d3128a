/**
 * The explorer in AWS: the query API (lib/infra/explorer/query-api.ts) and the page
 * (lib/infra/explorer/page.ts) with its Cognito users (lib/infra/explorer/users.ts), composed in
 * the serving stack. Pay-per-use only (Lambda, API Gateway, CloudFront, Cognito): nothing is
 * billed while nobody looks.
 *
 *   page users ──▶ CloudFront (OAC) ──▶ page bucket           services ──SigV4──▶ service API ─┐
 *              ──▶ Cognito hosted sign-in (code + PKCE)                                          ├─▶ query function ──▶ LanceDB on S3
 *              ──ID token──▶ page API (JWT authorizer, CORS: the distribution only) ─────────────┘
 *   thumbnails: pre-signed GETs under the source prefix (and the uploads prefix), straight from S3
 */
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { InfraConfig } from '../config';
import type { LanceDbLayer } from '../lancedb-layer';
import type { VistaStorage } from '../storage';
import type { ThumbnailSource } from '../vista-function';
import { ExplorerPage, ExplorerPageContent } from './page';
import { QueryApi, type QueryApiConfig, type TextEndpoint } from './query-api';
import { ExplorerUsers, type ExplorerUsersConfig, authDomainName } from './users';

export type ExplorerConfig = QueryApiConfig & ExplorerUsersConfig & Pick<InfraConfig, 'accessLogRetentionDays' | 'sourcePrefix'>;

export interface ExplorerProps {
  readonly config: ExplorerConfig;
  /** The backfill stack's buckets: the store, the source images, the logs bucket. */
  readonly storage: VistaStorage;
  /** LanceDB's native module (the serving stack's layer, shared with the real-time ingest). */
  readonly lanceDb: LanceDbLayer;
  /**
   * More places thumbnails may be pre-signed for, besides the source prefix (the uploads prefix:
   * uploaded images are in the catalog too).
   * @default - the source prefix only
   */
  readonly extraThumbnailSources?: readonly ThumbnailSource[];
  /**
   * The inference endpoint whose text tower embeds search text for the hybrid search.
   * @default - none: text search is full-text only
   */
  readonly textEndpoint?: TextEndpoint;
}

export class Explorer extends Construct {
  readonly page: ExplorerPage;
  readonly pageContent: ExplorerPageContent;
  readonly users: ExplorerUsers;
  readonly api: QueryApi;
  /** Every prefix thumbnails may be pre-signed under (and read by the query function). */
  readonly thumbnailSources: readonly ThumbnailSource[];

  constructor(scope: Construct, id: string, props: ExplorerProps) {
    super(scope, id);
    const { config, storage } = props;
    this.thumbnailSources = [
      { bucket: storage.sourceBucket, prefix: config.sourcePrefix, key: storage.sourceKey },
      ...(props.extraThumbnailSources ?? []),
    ];

    const region = Stack.of(this).region;
    // Virtual-hosted (bucket.s3.<region>…) and path-style (buckets with dots) pre-signed URLs.
    const imageHosts = [...this.thumbnailSources.map((s) => s.bucket.bucketRegionalDomainName), `s3.${region}.amazonaws.com`];
    this.page = new ExplorerPage(this, 'Page', { config, storage, imageHosts, connectHosts: [authDomainName(this, config)] });
    this.users = new ExplorerUsers(this, 'Users', { config, pageUrl: this.page.url });
    this.api = new QueryApi(this, 'Api', {
      config,
      storage,
      lanceDb: props.lanceDb,
      thumbnailSources: this.thumbnailSources,
      users: this.users,
      pageOrigin: this.page.origin,
      ...(props.textEndpoint ? { textEndpoint: props.textEndpoint } : {}),
    });
    this.pageContent = new ExplorerPageContent(this, 'PageContent', {
      page: this.page,
      pageConfig: { apiBase: this.api.pageApiUrl, auth: { domain: this.users.domainName, clientId: this.users.pageClient.userPoolClientId, redirectUri: this.page.url } },
    });
  }
}
