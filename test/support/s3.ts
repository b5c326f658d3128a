/** The local S3-compatible server the tests run against (shared with `vista demo`). */
export { startS3, type LocalS3 } from '../../lib/core/io/local-s3';
