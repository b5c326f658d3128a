/**
 * Every deploy-time setting of the Vista stacks, in one zod schema. Values come from CDK context:
 * `cdk.json` "context" holds the defaults a team shares, `-c vista:<field>=<value>` overrides one
 * for a single command. Keys are flat (`vista:maxVcpus`) because `-c` can only set top-level keys;
 * lists are JSON arrays in cdk.json or comma-separated on the command line.
 */
import type { Construct } from 'constructs';
import { z } from 'zod';
import { STORAGE_LAYOUT } from './storage';
import { DEFAULT_SHARD_SIZE } from '../core/backfill/config';
import { DEFAULT_INDEX_JOB_MIN_ROWS } from '../core/backfill/state-names';

export const CONTEXT_PREFIX = 'vista:';

const fromText = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const int = (fallback: number, min: number, max: number) =>
  z.preprocess(fromText, z.coerce.number().int().min(min).max(max).default(fallback));
const bool = (fallback: boolean) =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : fromText(v)), z.boolean().default(fallback));
const list = (fallback: string[]) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
    z.array(z.string().min(1)).default(fallback),
  );
const optionalText = () => z.preprocess(fromText, z.string().min(1).optional());

/**
 * A key inside the artifacts bucket under `<prefix>/`. The worker job role is granted read access
 * on fixed prefixes of that bucket (lib/infra/backfill/compute.ts), so a path elsewhere would
 * deploy fine and then fail in every worker with ACCESS_DENIED: refuse it at synth instead.
 */
const underPrefix = (prefix: string, what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, { message: 'letters, digits, ".", "_", "-" and "/" only' })
    .refine((p) => p.startsWith(`${prefix}/`) && p.length > prefix.length + 1 && !p.split('/').some((s) => s === '.' || s === '..'), {
      message:
        `the ${what} must be under "${prefix}/" in the artifacts bucket (e.g. "${prefix}/<name>"): the worker job role may read ` +
        `only ${STORAGE_LAYOUT.models}/*, ${STORAGE_LAYOUT.taxonomies}/* and ${STORAGE_LAYOUT.labelBanks}/* there`,
    });

/** Fargate task sizes (AWS Batch on Fargate): vCPUs, and the memory (MiB) each allows. */

/** The values CloudWatch Logs accepts as a retention (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export const infraConfigSchema = z
  .object({
    /** CloudFormation stack name. @default "VistaBackfill" */
    stackName: z.preprocess(fromText, z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,100}$/).default('VistaBackfill')),
    /** Account to pin the stack to. @default - environment-agnostic (resolved at deploy time) */
    account: optionalText(),
    /** Region to pin the stack to. @default - environment-agnostic */
    region: optionalText(),
    /**
     * Availability zones of the VPC. More zones mean more Spot capacity pools; naming them needs
     * `region`. No lookups are ever made (synth works without credentials).
     * @default [] - the first two zones of the deploy region (`Fn::GetAZs`)
     */
    availabilityZones: list([]),

    /** How workers reach AWS APIs: VPC endpoints only (no internet at all) or one NAT gateway. @default "endpoints" */
    egress: z.preprocess(fromText, z.enum(['endpoints', 'nat']).default('endpoints')),
    /** VPC address range. @default "10.40.0.0/16" */
    vpcCidr: z.preprocess(fromText, z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/).default('10.40.0.0/16')),
    /** VPC flow logs (rejected and accepted traffic) into the logs bucket. @default true */
    flowLogs: bool(true),

    /**
     * GPU instance types (or whole families, e.g. "g5") of both compute environments. A job takes
     * one GPU, so each single-GPU instance runs one job: its vCPUs should match jobVcpus, or the
     * extra ones are paid for and idle. A GPU worker is bound by JPEG decoding on its vCPUs, so
     * the 2xlarge sizes (8 vCPUs) cost less per image than the xlarge ones (4 vCPUs, the GPU
     * mostly idle): see the cost table in docs/deploy.md. Several families mean more Spot pools.
     * @default g4dn.2xlarge, g6.2xlarge, g5.2xlarge
     */
    instanceTypes: list(['g4dn.2xlarge', 'g6.2xlarge', 'g5.2xlarge']),
    /** ECS-optimized GPU AMI family. @default "ECS_AL2023_NVIDIA" */
    gpuAmi: z.preprocess(fromText, z.enum(['ECS_AL2023_NVIDIA', 'ECS_AL2_NVIDIA']).default('ECS_AL2023_NVIDIA')),
    /** Run a Spot compute environment first in the queue; false runs On-Demand only. @default true */
    spot: bool(true),
    /** Highest Spot price accepted, in percent of the On-Demand price. @default 100 */
    spotBidPercentage: int(100, 1, 100),
    /**
     * Add an On-Demand compute environment after the Spot one in the queue order. Off by default:
     * On-Demand costs ~2-3× Spot per image, so it is a deliberate choice (this flag, or `spot`
     * false for On-Demand only), never spill-over when Spot capacity is short. @default false
     */
    onDemandFallback: bool(false),
    /** vCPU ceiling of the Spot (or, without Spot, the only) compute environment. @default 256 */
    maxVcpus: int(256, 1, 100_000),
    /** vCPU ceiling of the On-Demand fallback environment. @default 64 */
    onDemandMaxVcpus: int(64, 1, 100_000),
    /** Root EBS volume of GPU instances (the container image alone is several GiB). @default 100 */
    rootVolumeGiB: int(100, 30, 16_384),

    /**
     * vCPUs per worker job: all of the instance's (decoding runs on them; fewer starves the GPU).
     * Match the instance types' vCPUs (8 for the 2xlarge sizes, 16 for 4xlarge). @default 8
     */
    jobVcpus: int(8, 1, 192),
    /** Memory per worker job, MiB; must fit what ECS leaves on the smallest instance type. @default 14336 */
    jobMemoryMiB: int(14_336, 1_024, 1_000_000),
    /** Minutes one attempt of one shard may run before Batch stops it. @default 180 */
    jobTimeoutMinutes: int(180, 1, 14 * 24 * 60),
    /** Attempts per shard (Spot reclaims, host failures, worker crashes; see the job definition). @default 5 */
    jobAttempts: int(5, 1, 10),
    /** Images per model call in the worker. @default 64 */
    batchSize: int(64, 1, 4_096),

    /**
     * Manifest entries per shard (= per Batch array child) when the execution input has no
     * shardSize. 400,000 images is ~15 minutes of one default 8-vCPU GPU instance (2xlarge) at
     * ~450 images/s, between the measured decode rates' 216/s and the GPU caps of 600–968/s
     * (arithmetic in docs/backfill.md), so a Spot reclaim costs little; 500M images make 1,250 shards.
     * @default 400000
     */
    shardSize: int(DEFAULT_SHARD_SIZE, 1, 10_000_000),
    /**
     * Minutes a worker job may wait in RUNNABLE for lack of instances
     * (CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY: G-instance quota, Spot starvation) before the
     * job queue cancels it; the wave then ends and a re-run picks the shard up.
     * @default 240
     */
    capacityWaitMinutes: int(240, 10, 10_080),
    /** Shards loaded into LanceDB at once (each load is one LanceDB commit). @default 8 */
    loadConcurrency: int(8, 1, 1_000),
    /**
     * Memory of the shard function, MiB. Duplicate detection keeps ~60 bytes per distinct URI:
     * 4 GiB holds a manifest of ~20M images with room to spare (lib/core/backfill/shard-manifest.ts).
     * @default 4096
     */
    shardMemoryMiB: int(4_096, 128, 10_240),
    /** Memory of the load function, MiB. @default 3008 */
    loadMemoryMiB: int(3_008, 128, 10_240),
    /** Memory of the index function, MiB. @default 10240 */
    indexMemoryMiB: int(10_240, 128, 10_240),
    /** Ephemeral storage (/tmp) of the index function, MiB: LanceDB's spill files while it builds indexes. @default 10240 */
    indexEphemeralStorageMiB: int(10_240, 512, 10_240),
    /**
     * Images-table size (rows) from which compaction and index building leave the index Lambda
     * (15 minutes at most) for the Batch index job (EC2, memory-optimised, sized below). An IVF_RQ
     * build of 1M 512-d rows took 45–86 s on 2 busy vCPUs here, and grows faster than linearly
     * (docs/benchmarks.md, "Index build fit"): past ~1M rows a Lambda's 15 minutes are no longer
     * a safe bet. 0 sends every table to the job.
     * @default 1000000
     */
    indexJobMinRows: int(DEFAULT_INDEX_JOB_MIN_ROWS, 0, 1_000_000_000_000),
    /**
     * Instance types of the index job's EC2 compute environment (On-Demand): memory-optimised,
     * for 500M × 512 float16 (512 GB of vectors, streamed) and IVF training on a sample of
     * 256 × 22,361 partitions ≈ 5.7M vectors (~12 GB as float32). Fargate stops at 16 vCPUs / 120 GiB.
     * @default r7i.16xlarge, r6i.16xlarge
     */
    indexJobInstanceTypes: list(['r7i.16xlarge', 'r6i.16xlarge']),
    /** vCPUs of the Batch index job (≤ the instance's: 64 on an r7i.16xlarge). @default 64 */
    indexJobVcpus: int(64, 2, 448),
    /**
     * Memory of the Batch index job, MiB (below the instance's 512 GiB: the ECS agent and the OS
     * keep some). @default 491520 (480 GiB)
     */
    indexJobMemoryMiB: int(491_520, 2_048, 24_576 * 1_024),
    /**
     * Root EBS volume of the index job's instances, GiB (gp3, encrypted): the worker image plus
     * LanceDB's spill files (the partition shuffle writes each row's codes and row id; at 500M rows
     * tens to hundreds of GB). @default 1024
     */
    indexJobStorageGiB: int(1_024, 100, 16_384),
    /**
     * Minutes the Batch index job may run: 500M rows are projected at ≈ 23–28 h on one r7i.16xlarge
     * from builds measured at 250k–4M rows (docs/benchmarks.md, "Index build fit"), uncertain by 2×
     * either way: 4 days. @default 5760
     */
    indexJobTimeoutMinutes: int(5_760, 10, 14 * 24 * 60),
    /**
     * Model folder (Hugging Face split ONNX layout) inside the artifacts bucket. Must be under
     * `models/`: the worker job role may read `models/*` of that bucket and nothing else there
     * (besides taxonomies and label banks).
     * @default "models/clip-vit-b-32"
     */
    modelPath: z.preprocess(fromText, underPrefix(STORAGE_LAYOUT.models, 'model folder').default('models/clip-vit-b-32')),

    /**
     * Taxonomy file inside the artifacts bucket (lib/core/tags/taxonomy-schema.ts). Must be under
     * `taxonomies/`, the only prefix besides models and label banks the worker job role may read.
     * @default - the hotel taxonomy bundled with the worker
     */
    taxonomyPath: z.preprocess(fromText, underPrefix(STORAGE_LAYOUT.taxonomies, 'taxonomy file').optional()),

    /**
     * Existing bucket holding the source images: imported (never modified, read-only grants)
     * instead of creating one.
     * @default - a new, retained source bucket
     */
    sourceBucketName: optionalText(),
    /** KMS key ARN of an imported source bucket encrypted with SSE-KMS (workers get kms:Decrypt). @default - none */
    sourceKmsKeyArn: optionalText(),
    /** Key prefix the workers may read in the source bucket ("" = the whole bucket). @default "" */
    sourcePrefix: z.preprocess((v) => (v === undefined ? '' : v), z.string().regex(/^([A-Za-z0-9!_.*'()/-]+\/)?$/)),
    /**
     * Existing bucket that receives the source bucket's S3 Inventory reports (the `inventoryUri`
     * of an execution points into it): imported, and the shard function may read (and list) it
     * under `inventoryPrefix`. Without it an inventory must be copied under `manifests/` of the work
     * bucket, the only other place the shard function may read.
     * @default - none
     */
    inventoryBucketName: optionalText(),
    /** Key prefix of the inventory reports in `inventoryBucketName` ("" = the whole bucket). @default "" */
    inventoryPrefix: z.preprocess((v) => (v === undefined ? '' : v), z.string().regex(/^([A-Za-z0-9!_.*'()/=-]+\/)?$/)),
    /** Encryption at rest of the buckets Vista creates (the access-log bucket is always S3-managed). @default "S3_MANAGED" */
    encryption: z.preprocess(fromText, z.enum(['S3_MANAGED', 'KMS']).default('S3_MANAGED')),
    /** Days before a run's files (shards, results, load outcomes, report) expire; 0 keeps them. @default 30 */
    intermediateRetentionDays: int(30, 0, 3_650),
    /** Days noncurrent object versions are kept in versioned buckets. @default 30 */
    noncurrentVersionRetentionDays: int(30, 1, 3_650),
    /** Days S3 server access logs and flow logs are kept. @default 365 */
    accessLogRetentionDays: int(365, 1, 3_650),
    /** Retention of the CloudWatch log groups. @default 90 */
    logRetentionDays: z.preprocess(
      fromText,
      z.coerce
        .number()
        .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), { message: `one of ${LOG_RETENTION_DAYS.join(', ')}` })
        .default(90),
    ),

    /** Alarm when more than this percentage of processed images fail (5-minute windows). @default 5 */
    alarmFailureRatePercent: int(5, 1, 100),
    /**
     * Alarm when this many shards (Batch array children) fail for good within 15 minutes: all
     * jobAttempts used, or an exit the retry strategy does not retry. Retried attempts are not
     * counted (Batch puts them back to RUNNABLE, they never reach FAILED), nor is the array job
     * itself. Every such shard is missing from the run until it is resumed.
     * @default 5
     */
    alarmFailedJobs: int(5, 1, 100_000),
    /** Alarm when a backfill Lambda errors this many times within 15 minutes. @default 5 */
    alarmLambdaErrors: int(5, 1, 100_000),
    /**
     * Alarm when jobs of a Batch queue (the GPU workers', the index job's) have waited RUNNABLE
     * this many minutes with no job of that queue starting: a G-instance quota of 0, Spot
     * starvation, a compute environment that cannot launch. Measured every 5 minutes by the
     * queue-watch Lambda (Batch publishes no queue metrics). A busy wave whose children wait their
     * turn while others start does not count. @default 60
     */
    alarmQueueStalledMinutes: int(60, 10, 10_080),
    /** Create an SNS topic that every alarm notifies. @default false */
    alarmTopic: bool(false),
    /** Email subscribed to the alarm topic (implies alarmTopic). @default - none */
    alarmEmail: z.preprocess(fromText, z.email().optional()),

    /**
     * Cost allocation tags put on every resource of both stacks, as `Key=Value` (besides
     * `Project=Vista` and `VistaStack=<stack>`, always set). Activate them once in the Billing
     * console (Cost allocation tags) to see them in Cost Explorer. @default - none
     */
    costTags: list([]).refine((tags) => tags.every((t) => /^[^=]{1,128}=[^=]{0,256}$/.test(t)), 'each tag as Key=Value'),
    /**
     * A monthly AWS Budget (USD) over everything tagged `Project=Vista`, notifying `alarmEmail` at
     * 80 % of actual and 100 % of forecast spend; 0: no budget. @default 0
     */
    budgetMonthlyUsd: int(0, 0, 100_000_000),

    // The real-time path (lib/infra/serving/): a SageMaker endpoint running the worker image with
    // `serve`, an HTTP API and an uploads bucket in front of it, in a stack of its own.

    /** CloudFormation stack of the real-time path (deployed after, and reading from, the backfill stack). @default "VistaServing" */
    servingStackName: z.preprocess(fromText, z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,55}$/).default('VistaServing')),
    /** SageMaker instance type of the inference endpoint (one GPU is enough: requests are micro-batched). @default "ml.g5.xlarge" */
    endpointInstanceType: z.preprocess(fromText, z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'a SageMaker instance type, e.g. ml.g5.xlarge' }).default('ml.g5.xlarge')),
    /**
     * SageMaker inference AMI (GPU driver) of the endpoint's instances. The worker image is built on
     * CUDA 12 + cuDNN 9, which needs an NVIDIA driver of at least 525; without an override, SageMaker
     * still runs driver 470 (CUDA 11.4) on ml.g4dn and ml.g5 instances, where the CUDA provider
     * cannot load. "al2-ami-sagemaker-inference-gpu-3-1": driver 550, CUDA 12.4.
     * @default "al2-ami-sagemaker-inference-gpu-3-1"
     */
    endpointInferenceAmiVersion: z.preprocess(fromText, z.string().regex(/^[a-z0-9-]+$/).default('al2-ami-sagemaker-inference-gpu-3-1')),
    /** Instances the endpoint starts with (later deploys keep the count autoscaling chose). @default 1 */
    endpointInitialInstanceCount: int(1, 1, 100),
    /** Fewest instances autoscaling keeps (a real-time endpoint cannot scale to zero). @default 1 */
    endpointMinInstances: int(1, 1, 100),
    /** Most instances autoscaling starts; each is billed per hour. @default 2 */
    endpointMaxInstances: int(2, 1, 100),
    /**
     * Target of the endpoint's autoscaling: invocations per instance per minute
     * (SageMakerVariantInvocationsPerInstance). One ml.g5.xlarge decodes roughly 100 images/s
     * (4 vCPUs); 1800/min (30/s) leaves room for bursts while new instances start (~5-10 min).
     * @default 1800
     */
    endpointTargetInvocationsPerInstance: int(1_800, 1, 1_000_000),
    /** Seconds SageMaker waits for a new container's first successful /ping (model download, label bank). @default 600 */
    endpointStartupTimeoutSeconds: int(600, 60, 3_600),
    /** Requests the inference server groups into one model call (VISTA_MAX_BATCH_SIZE). @default 16 */
    endpointMaxBatchSize: int(16, 1, 256),
    /**
     * How uploads reach the model. `sync`: the upload function calls the always-on endpoint, as the
     * API does (results within seconds). `async`: a second endpoint of the same model on SageMaker
     * asynchronous inference (lib/infra/serving/async-endpoint.ts) that scales to zero instances
     * when no upload waits; the first upload after an idle period waits minutes for an instance
     * (cold start, docs/deploy.md). The default stays `sync`: the API keeps its always-on endpoint
     * anyway, so `async` adds a second GPU endpoint and pays off only when uploads come in bursts
     * large enough to scale the shared endpoint out, or when minutes of latency are fine.
     * @default "sync"
     */
    uploadInference: z.preprocess(fromText, z.enum(['sync', 'async']).default('sync')),
    /** Most instances of the asynchronous upload endpoint (`uploadInference: async`; its fewest is 0). @default 2 */
    asyncEndpointMaxInstances: int(2, 1, 100),
    /** Target of its autoscaling: queued requests per instance (ApproximateBacklogSizePerInstance). @default 200 */
    asyncBacklogPerInstance: int(200, 1, 100_000),
    /** Requests SageMaker sends one instance of it at once (micro-batched into model calls). @default 16 */
    asyncMaxConcurrentInvocationsPerInstance: int(16, 1, 1_000),

    /** Steady-state requests per second the enrichment API accepts (all callers together). @default 50 */
    apiThrottleRate: int(50, 1, 10_000),
    /** Burst of requests the enrichment API accepts. @default 100 */
    apiThrottleBurst: int(100, 1, 5_000),
    /** Memory of the API function, MiB (an inline image is decoded from base64 there). @default 1024 */
    apiMemoryMiB: int(1_024, 128, 10_240),
    /** Timeout of the API function, seconds: below the API's 29-second integration timeout, so that a slow call ends as the function's own error. @default 25 */
    apiTimeoutSeconds: int(25, 3, 28),

    /** Memory of the upload function, MiB. @default 512 */
    uploadMemoryMiB: int(512, 128, 10_240),
    /** Timeout of the upload function, seconds; the queue's visibility timeout is 6 times this (plus the batching window). @default 120 */
    uploadTimeoutSeconds: int(120, 10, 900),
    /** Upload notifications per invocation of the upload function. @default 10 */
    uploadBatchSize: int(10, 1, 100),
    /** Seconds the queue may wait to fill a batch. @default 5 */
    uploadBatchingWindowSeconds: int(5, 0, 300),
    /**
     * Most concurrent invocations of the upload function (the SQS event source's maximum
     * concurrency, 2 or more): a bulk upload queues up instead of flooding the endpoint.
     * @default 4
     */
    uploadMaxConcurrency: int(4, 2, 1_000),
    /** Receives of one upload notification before it moves to the dead-letter queue. @default 5 */
    uploadMaxReceiveCount: int(5, 1, 1_000),
    /**
     * Key suffixes that trigger enrichment (S3 filters are case-sensitive: list ".JPG" too if
     * cameras upload it). Empty: every object under uploads/ (non-images get an error result).
     * @default [] - every object
     */
    uploadSuffixes: list([]),
    /**
     * Days before uploaded files expire (results are kept in the work bucket); 0 keeps them.
     * Opt-in: an upload may be the only copy of a customer's image. @default 0
     */
    uploadRetentionDays: int(0, 0, 3_650),
    /** Minutes between runs of the real-time ingest (uploaded images into LanceDB). @default 5 */
    realtimeIngestIntervalMinutes: int(5, 1, 1_440),
    /** Memory of the real-time ingest function, MiB (a batch of 10,000 results is ~25 MB of embeddings as JSON). @default 2048 */
    realtimeIngestMemoryMiB: int(2_048, 512, 10_240),

    // The explorer (lib/infra/explorer/): the query API (two HTTP APIs over one Lambda reading the
    // LanceDB store) and the page (S3 + CloudFront) with a Cognito user pool, in the serving stack.

    /** Deploy the explorer in the serving stack (pay-per-use: Lambda, API Gateway, CloudFront, Cognito). @default true */
    explorer: bool(true),
    /** Memory of the query API function, MiB (LanceDB's caches of index and metadata live in it). @default 2048 */
    explorerMemoryMiB: int(2_048, 512, 10_240),
    /** Timeout of the query API function, seconds: below the API's 29-second integration timeout. @default 25 */
    explorerTimeoutSeconds: int(25, 3, 28),
    /** Steady-state requests per second each query API (services, page users) accepts. @default 50 */
    explorerThrottleRate: int(50, 1, 10_000),
    /** Burst of requests each query API accepts. @default 100 */
    explorerThrottleBurst: int(100, 1, 5_000),
    /**
     * Prefix of the Cognito hosted sign-in domain (`<prefix>.auth.<region>.amazoncognito.com`): unique
     * per region across all AWS accounts; lowercase letters, digits and hyphens, without "aws",
     * "amazon" or "cognito".
     * @default - "vista-explorer-<account id>"
     */
    explorerAuthDomainPrefix: z.preprocess(
      fromText,
      z
        .string()
        .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, { message: 'lowercase letters, digits and hyphens (1 to 63), not starting or ending with a hyphen' })
        .refine((p) => !/aws|amazon|cognito/.test(p), { message: 'Cognito refuses domain prefixes containing "aws", "amazon" or "cognito"' })
        .optional(),
    ),

    /** Alarm when the inference endpoint answers this many 5xx within 5 minutes. @default 5 */
    alarmEndpoint5xx: int(5, 1, 100_000),
    /** Alarm when the enrichment API answers this many 5xx within 5 minutes. @default 5 */
    alarmApi5xx: int(5, 1, 100_000),
    /** Alarm when the oldest upload waiting for the ingest into LanceDB is older than this, minutes. @default 30 */
    alarmRealtimeLagMinutes: int(30, 5, 1_440),
    /**
     * Alarm when this many rows of the store are outside the vector index (searched exactly, so
     * slower as they grow): time for an index run (`vista backfill index`, or a backfill's). @default 1,000,000
     */
    alarmUnindexedRows: int(1_000_000, 1_000, 1_000_000_000),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.instanceTypes.length === 0) issue('instanceTypes', 'at least one instance type');
    if (c.jobVcpus > c.maxVcpus) issue('maxVcpus', `must be ≥ jobVcpus (${c.jobVcpus})`);
    if (c.onDemandFallback && c.jobVcpus > c.onDemandMaxVcpus) issue('onDemandMaxVcpus', `must be ≥ jobVcpus (${c.jobVcpus})`);
    if (c.availabilityZones.length > 0 && !c.region) issue('availabilityZones', 'naming zones needs region');
    if (c.sourceKmsKeyArn && !c.sourceBucketName) issue('sourceKmsKeyArn', 'only for an imported source bucket (sourceBucketName)');
    if (c.endpointMinInstances > c.endpointMaxInstances) issue('endpointMaxInstances', `must be ≥ endpointMinInstances (${c.endpointMinInstances})`);
    if (c.endpointInitialInstanceCount < c.endpointMinInstances || c.endpointInitialInstanceCount > c.endpointMaxInstances) {
      issue('endpointInitialInstanceCount', `must be within endpointMinInstances..endpointMaxInstances (${c.endpointMinInstances}..${c.endpointMaxInstances})`);
    }
    if (c.servingStackName === c.stackName) issue('servingStackName', 'must differ from stackName');
    if (c.uploadBatchSize > 10 && c.uploadBatchingWindowSeconds === 0) issue('uploadBatchingWindowSeconds', 'must be > 0 when uploadBatchSize is over 10 (an SQS event source rule)');
    for (const suffix of c.uploadSuffixes) {
      if (!/^[A-Za-z0-9._-]+$/.test(suffix)) issue('uploadSuffixes', `"${suffix}": letters, digits, ".", "_" and "-" only (e.g. ".jpg")`);
      // S3 refuses two notification filters of one event type where a key could match both.
      const overlapping = c.uploadSuffixes.find((other) => other !== suffix && suffix.endsWith(other));
      if (overlapping) issue('uploadSuffixes', `"${suffix}" overlaps "${overlapping}" (S3 refuses overlapping notification filters)`);
    }
    if (new Set(c.uploadSuffixes).size !== c.uploadSuffixes.length) issue('uploadSuffixes', 'duplicate suffix');
    for (const type of c.indexJobInstanceTypes) {
      if (!/^(r|x)\d+[a-z]*\.\d*x?large$/.test(type)) issue('indexJobInstanceTypes', `"${type}": a memory-optimised type (r… or x… family, e.g. r7i.16xlarge)`);
    }
  });

export type InfraConfig = z.infer<typeof infraConfigSchema>;
export type InfraConfigInput = Partial<Record<keyof InfraConfig, unknown>>;

export class InfraConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid Vista deploy configuration (CDK context ${CONTEXT_PREFIX}*):\n  ${issues.join('\n  ')}`);
    this.name = 'InfraConfigError';
  }
}

export function parseInfraConfig(input: InfraConfigInput): InfraConfig {
  const parsed = infraConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new InfraConfigError(parsed.error.issues.map((i) => `${CONTEXT_PREFIX}${i.path.join('.')}: ${i.message}`));
  }
  return parsed.data;
}

/** Reads every `vista:<field>` context value of the app (cdk.json, then `-c` overrides). */
export function readInfraConfig(scope: Construct): InfraConfig {
  const fields = Object.keys(infraConfigSchema.shape) as (keyof InfraConfig)[];
  const input: InfraConfigInput = {};
  for (const field of fields) {
    const value: unknown = scope.node.tryGetContext(`${CONTEXT_PREFIX}${field}`);
    if (value !== undefined) input[field] = value;
  }
  return parseInfraConfig(input);
}
