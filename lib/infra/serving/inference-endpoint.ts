/**
 * The GPU inference endpoint of the real-time path: a SageMaker real-time endpoint running the
 * worker image (batch-worker/Dockerfile, the same image asset as the Batch worker) with the
 * argument `serve`, i.e. `vista serve` speaking SageMaker's container contract (GET /ping,
 * POST /invocations on port 8080; lib/core/serving/http-server.ts).
 *
 * The container downloads the model, taxonomy and label bank itself from the artifacts bucket
 * (VISTA_MODEL_URI …, lib/core/serving/serving-env.ts); SageMaker's ModelDataUrl is not used.
 * The execution role may pull the image, write the endpoint's log group, read the configured
 * model folder and taxonomy, read (not write) the label-bank cache, and read the uploads prefix: the
 * only prefix the server is allowed to fetch (VISTA_ALLOWED_URI_PREFIXES).
 *
 * Real-time, not serverless: SageMaker Serverless Inference has no GPUs. Instances run (and are
 * billed) around the clock; autoscaling on invocations per instance adds instances between
 * `endpointMinInstances` and `endpointMaxInstances`.
 */
import { Aws, Duration, IgnoreMode, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { SERVING_ENV } from '../../core/serving/serving-env';
import { WORKER_DOCKERFILE, workerDockerIgnore } from '../backfill/compute';
import type { InfraConfig } from '../config';
import { allowWildcards } from '../nag';
import { REPO_ROOT } from '../paths';
import { grantObjects } from '../s3-access';
import { STORAGE_LAYOUT, type VistaStorage } from '../storage';

export type InferenceEndpointConfig = Pick<
  InfraConfig,
  | 'endpointInstanceType'
  | 'endpointInferenceAmiVersion'
  | 'endpointInitialInstanceCount'
  | 'endpointMinInstances'
  | 'endpointMaxInstances'
  | 'endpointTargetInvocationsPerInstance'
  | 'endpointStartupTimeoutSeconds'
  | 'endpointMaxBatchSize'
  | 'modelPath'
  | 'taxonomyPath'
  | 'logRetentionDays'
>;

export interface InferenceEndpointProps {
  readonly config: InferenceEndpointConfig;
  /** The model, taxonomy and label-bank cache are read from its artifacts bucket. */
  readonly storage: VistaStorage;
  /** The only location the server may fetch images from (`{ "uri": … }` requests, the upload trigger). */
  readonly uploads: { readonly bucket: s3.IBucket; readonly prefix: string };
  /**
   * SageMaker endpoint name (lowercase: SageMaker lowercases the name in the endpoint's ARN, and
   * IAM compares ARNs case-sensitively).
   * @default - `<stack name>-enrich`, lowercased
   */
  readonly endpointName?: string;
  /**
   * Private subnets and security groups for the instances' network interfaces (SageMaker's
   * VpcConfig): the container then reaches S3 through the VPC's gateway endpoint, under its
   * policy, and nothing else. Network isolation stays off: the container downloads its model,
   * taxonomy and label bank and fetches `uri` requests from S3 itself, which isolation forbids.
   * @default - not attached to a VPC
   */
  readonly vpc?: { readonly subnetIds: string[]; readonly securityGroupIds: string[] };
}

/** The single production variant's name. */
export const VARIANT_NAME = 'AllTraffic';
/** The argument SageMaker passes to a hosting container (`docker run <image> serve`). */
export const SAGEMAKER_SERVE_ARGUMENT = 'serve';
/** SageMaker's container metrics (CPU, memory, GPU, disk per instance). */
const INSTANCE_METRICS_NAMESPACE = '/aws/sagemaker/Endpoints';

/** `<name>` as SageMaker accepts it: letters, digits and single hyphens, at most 63 characters. */
export function sagemakerName(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  if (!cleaned) throw new Error(`no SageMaker name can be made of "${name}"`);
  return cleaned;
}

export class InferenceEndpoint extends Construct {
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly endpointConfig: sagemaker.CfnEndpointConfig;
  readonly model: sagemaker.CfnModel;
  /** SageMaker endpoint name (known at synth). */
  readonly endpointName: string;
  /** ARN of the endpoint, as SageMaker reports it (the resource's Ref). */
  readonly endpointArn: string;
  readonly variantName = VARIANT_NAME;
  /** What the container may do (ECR pull, its log group, the S3 prefixes listed above). */
  readonly role: iam.Role;
  /** The worker image (same Dockerfile, context and hash as the Batch worker's). */
  readonly image: DockerImageAsset;
  /** `/aws/sagemaker/Endpoints/<name>`: the container's stdout/stderr. */
  readonly logGroup: logs.LogGroup;
  readonly scalableTarget: appscaling.ScalableTarget;
  /** The environment of the container (SERVING_ENV). */
  readonly environment: Record<string, string>;

  constructor(scope: Construct, id: string, props: InferenceEndpointProps) {
    super(scope, id);
    const { config, storage } = props;
    const stack = Stack.of(this);
    this.endpointName = sagemakerName(props.endpointName ?? `${stack.stackName}-enrich`);

    this.image = new DockerImageAsset(this, 'Image', {
      directory: REPO_ROOT,
      file: WORKER_DOCKERFILE,
      exclude: workerDockerIgnore(),
      ignoreMode: IgnoreMode.DOCKER,
      platform: Platform.LINUX_AMD64,
    });

    // SageMaker writes the container's output to this group; created here to set its retention.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/sagemaker/Endpoints/${this.endpointName}`,
      retention: config.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'Vista inference endpoint: pulls the worker image, writes its log group, reads the model and the uploads prefix',
    });
    this.grantContainerAccess(config, storage, props.uploads);
    if (props.vpc) {
      // What SageMaker needs to put the instances' network interfaces in the subnets.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:CreateNetworkInterfacePermission',
            'ec2:DeleteNetworkInterface',
            'ec2:DeleteNetworkInterfacePermission',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeVpcs',
            'ec2:DescribeDhcpOptions',
            'ec2:DescribeSubnets',
            'ec2:DescribeSecurityGroups',
          ],
          resources: ['*'],
        }),
      );
    }

    const uploadsUri = `s3://${props.uploads.bucket.bucketName}/${props.uploads.prefix}`;
    this.environment = {
      AWS_REGION: Aws.REGION,
      [SERVING_ENV.modelUri]: storage.modelUri(config.modelPath),
      ...(config.taxonomyPath ? { [SERVING_ENV.taxonomyUri]: `${storage.artifactsUri}/${config.taxonomyPath}` } : {}),
      [SERVING_ENV.artifactsUri]: storage.artifactsUri,
      [SERVING_ENV.provider]: 'cuda',
      [SERVING_ENV.allowedUriPrefixes]: uploadsUri,
      [SERVING_ENV.maxBatchSize]: String(config.endpointMaxBatchSize),
    };

    this.model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      primaryContainer: { image: this.image.imageUri, mode: 'SingleModel', environment: this.environment },
      // The container fetches the model and images from S3 itself (isolation allows ModelDataUrl only).
      enableNetworkIsolation: false,
      ...(props.vpc ? { vpcConfig: { subnets: props.vpc.subnetIds, securityGroupIds: props.vpc.securityGroupIds } } : {}),
    });
    // SageMaker checks the role's access (ECR pull) when the model is created.
    this.model.node.addDependency(this.role);

    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: [
        {
          variantName: VARIANT_NAME,
          modelName: this.model.attrModelName,
          instanceType: config.endpointInstanceType,
          inferenceAmiVersion: config.endpointInferenceAmiVersion,
          initialInstanceCount: config.endpointInitialInstanceCount,
          initialVariantWeight: 1,
          containerStartupHealthCheckTimeoutInSeconds: config.endpointStartupTimeoutSeconds,
        },
      ],
      // No DataCaptureConfig: requests carry customers' images; nothing is copied to S3.
      // No KmsKeyId: GPU instances with local NVMe storage (g4dn, g5, g6) reject one; that
      // storage is encrypted by the hardware.
    });

    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      // A new endpoint config (new model, image, instance type) keeps the instance count that
      // autoscaling chose instead of falling back to the initial count.
      retainAllVariantProperties: true,
    });
    this.endpoint.node.addDependency(this.logGroup);
    this.endpointArn = this.endpoint.ref;

    this.scalableTarget = new appscaling.ScalableTarget(this, 'Scaling', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${this.endpointName}/variant/${VARIANT_NAME}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: config.endpointMinInstances,
      maxCapacity: config.endpointMaxInstances,
      role: sageMakerScalingRole(this),
    });
    this.scalableTarget.node.addDependency(this.endpoint);
    this.scalableTarget.scaleToTrackMetric('InvocationsPerInstance', {
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
      targetValue: config.endpointTargetInvocationsPerInstance,
      // A GPU instance takes minutes to start: scale out quickly, in slowly.
      scaleOutCooldown: Duration.minutes(2),
      scaleInCooldown: Duration.minutes(10),
    });
  }

  /** A metric of the endpoint's variant in AWS/SageMaker (Invocations, ModelLatency, Invocation5XXErrors…). */
  metric(metricName: string, props: cw.MetricOptions = {}): cw.Metric {
    return new cw.Metric({
      namespace: 'AWS/SageMaker',
      metricName,
      dimensionsMap: { EndpointName: this.endpointName, VariantName: VARIANT_NAME },
      period: Duration.minutes(5),
      statistic: 'Sum',
      ...props,
    });
  }

  /** A metric of the endpoint's instances (CPUUtilization, GPUUtilization, GPUMemoryUtilization…), percent. */
  metricInstance(metricName: string, props: cw.MetricOptions = {}): cw.Metric {
    return new cw.Metric({
      namespace: INSTANCE_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { EndpointName: this.endpointName, VariantName: VARIANT_NAME },
      period: Duration.minutes(5),
      statistic: 'Average',
      ...props,
    });
  }

  private grantContainerAccess(config: InferenceEndpointConfig, storage: VistaStorage, uploads: InferenceEndpointProps['uploads']): void {
    this.image.repository.grantPull(this.role);
    this.logGroup.grant(this.role, 'logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams');
    // SageMaker's hosting agent publishes the instances' CPU/GPU/memory metrics with this role.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': INSTANCE_METRICS_NAMESPACE } },
      }),
    );
    const labelBanks = `${STORAGE_LAYOUT.labelBanks}/*`;
    grantObjects(
      this.role,
      storage.artifactsBucket,
      // Read, never write: a poisoned label bank would re-tag the whole backfill. Without a bank
      // built by the workers yet, the server builds its own in memory (getLabelBank).
      { read: [`${config.modelPath.replace(/\/+$/, '')}/*`, ...(config.taxonomyPath ? [config.taxonomyPath] : []), labelBanks] },
      { why: 'The inference server reads its model folder and taxonomy, and the label banks the workers built' },
    );
    grantObjects(this.role, uploads.bucket, { read: [`${uploads.prefix}*`] }, { why: 'The inference server fetches uploaded images (its only allowed URI prefix)' });
    allowWildcards(this.role, [
      {
        match: { finding: /^Resource::\*$/ },
        reason:
          'ecr:GetAuthorizationToken has no resource-level permissions (pulling the image); cloudwatch:PutMetricData has none either and is limited to the /aws/sagemaker/Endpoints namespace by condition; the ec2 network-interface actions SageMaker needs for VpcConfig are documented with Resource * (the interfaces do not exist before SageMaker creates them).',
      },
    ]);
  }
}

/** Application Auto Scaling's service-linked role for SageMaker endpoints (created on first use). */
export function sageMakerScalingRole(scope: Construct): iam.IRole {
  return iam.Role.fromRoleArn(
    scope,
    'ScalingRole',
    Stack.of(scope).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
    }),
    { mutable: false },
  );
}
