/**
 * The workers' network. Default: private subnets with no route to the internet at all, an S3
 * gateway endpoint (free, and where every image and result byte flows) and the interface
 * endpoints that an ECS GPU instance and its container need: ECR (api + dkr) to pull the image,
 * ECS (+ agent, telemetry) to register and receive tasks, CloudWatch Logs for logs and EMF
 * metrics, STS for credentials. `egress: "nat"` trades those endpoints for one NAT gateway (for
 * workers that must reach the internet, e.g. images on third-party URLs). See docs/deploy.md.
 *
 * Endpoint policies (a second fence behind the roles: a compromised decoder holding stolen or
 * its own credentials cannot use the VPC's endpoints to reach other accounts):
 *   - S3 gateway: reads from buckets of this account, the source bucket (which may be another
 *     account's) and ECR's image-layer bucket (`prod-<region>-starport-layer-bucket`); writes
 *     only to the stack's own buckets (`writableBuckets`). No PUT to any other bucket.
 *   - interface endpoints (ECR, ECS, Logs, STS): callers of this account acting on resources of
 *     this account only.
 */
import { Aws } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from './config';

export type NetworkConfig = Pick<InfraConfig, 'egress' | 'vpcCidr' | 'flowLogs' | 'availabilityZones'>;

export interface VistaNetworkProps {
  readonly config: NetworkConfig;
  /** Destination of VPC flow logs (when config.flowLogs). */
  readonly logsBucket: s3.IBucket;
  /**
   * The only buckets anything in the VPC may write to through the S3 gateway endpoint.
   * @default - none: the gateway endpoint admits reads only
   */
  readonly writableBuckets?: s3.IBucket[];
  /**
   * A bucket that may belong to another account, read through the S3 gateway endpoint (the
   * imported source bucket).
   * @default - none
   */
  readonly readableBuckets?: s3.IBucket[];
}

/** Object actions the workers, the index job and LanceDB use (lib/infra/s3-access.ts). */
const S3_READ_ACTIONS = ['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'];
const S3_WRITE_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:DeleteObject'];

/** ECR keeps image layers in an AWS-owned bucket; pulls through the gateway endpoint read it. */
export function ecrLayerBucketArn(): string {
  return `arn:${Aws.PARTITION}:s3:::prod-${Aws.REGION}-starport-layer-bucket`;
}

/** Interface endpoints a Batch ECS GPU instance needs when nothing else leaves the VPC. */
const WORKER_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
  EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
  EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
  Sts: ec2.InterfaceVpcEndpointAwsService.STS,
};

export class VistaNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where GPU instances run. */
  readonly workerSubnets: ec2.SubnetSelection;
  /** Of the GPU instances: no inbound rule at all. */
  readonly workerSecurityGroup: ec2.SecurityGroup;
  readonly s3Endpoint: ec2.GatewayVpcEndpoint;
  /** By name (WORKER_ENDPOINTS); empty with `egress: nat`. */
  readonly interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpoint> = {};

  constructor(scope: Construct, id: string, props: VistaNetworkProps) {
    super(scope, id);
    const { config } = props;
    const viaNat = config.egress === 'nat';
    const workerSubnetType = viaNat ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.vpcCidr),
      // Named zones need a region-bound stack; otherwise two zones of the deploy region (no lookup).
      ...(config.availabilityZones.length > 0 ? { availabilityZones: config.availabilityZones } : { maxAzs: 2 }),
      natGateways: viaNat ? 1 : 0,
      subnetConfiguration: [
        ...(viaNat ? [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }] : []),
        { name: 'workers', subnetType: workerSubnetType, cidrMask: 20 },
      ],
    });
    this.workerSubnets = { subnetType: workerSubnetType };
    this.workerSecurityGroup = new ec2.SecurityGroup(this, 'Workers', {
      vpc: this.vpc,
      description: 'Vista GPU workers: no inbound; outbound to S3 and the VPC endpoints (or the NAT gateway)',
      allowAllOutbound: true,
    });

    this.s3Endpoint = this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [this.workerSubnets] });
    const ownAccount = { StringEquals: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID } };
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadOwnAccountBuckets',
        principals: [new iam.AnyPrincipal()],
        actions: S3_READ_ACTIONS,
        resources: ['*'],
        conditions: { StringEquals: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID, 's3:ResourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    const readable = props.readableBuckets ?? [];
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSourceAndEcrLayers',
        principals: [new iam.AnyPrincipal()],
        actions: S3_READ_ACTIONS,
        resources: [ecrLayerBucketArn(), `${ecrLayerBucketArn()}/*`, ...readable.flatMap((b) => [b.bucketArn, b.arnForObjects('*')])],
        conditions: ownAccount,
      }),
    );
    const writable = props.writableBuckets ?? [];
    if (writable.length > 0) {
      this.s3Endpoint.addToPolicy(
        new iam.PolicyStatement({
          sid: 'WriteOwnBucketsOnly',
          principals: [new iam.AnyPrincipal()],
          actions: S3_WRITE_ACTIONS,
          resources: writable.map((b) => b.arnForObjects('*')),
          conditions: ownAccount,
        }),
      );
    }
    if (!viaNat) {
      const endpoints = new ec2.SecurityGroup(this, 'Endpoints', {
        vpc: this.vpc,
        description: 'Vista interface endpoints: HTTPS from the GPU workers only',
        allowAllOutbound: false,
      });
      endpoints.addIngressRule(this.workerSecurityGroup, ec2.Port.tcp(443), 'HTTPS from the GPU workers');
      for (const [name, service] of Object.entries(WORKER_ENDPOINTS)) {
        const endpoint = this.vpc.addInterfaceEndpoint(name, { service, subnets: this.workerSubnets, privateDnsEnabled: true, open: false, securityGroups: [endpoints] });
        endpoint.addToPolicy(
          new iam.PolicyStatement({
            sid: 'OwnAccountOnly',
            principals: [new iam.AnyPrincipal()],
            actions: ['*'],
            resources: ['*'],
            // IfExists: some actions (ecr:GetAuthorizationToken, sts:GetCallerIdentity) name no resource.
            conditions: { StringEquals: { 'aws:PrincipalAccount': Aws.ACCOUNT_ID }, StringEqualsIfExists: { 'aws:ResourceAccount': Aws.ACCOUNT_ID } },
          }),
        );
        this.interfaceEndpoints[name] = endpoint;
      }
    }
    if (config.flowLogs) {
      this.vpc.addFlowLog('FlowLogs', {
        destination: ec2.FlowLogDestination.toS3(props.logsBucket, 'vpc-flow-logs/'),
        trafficType: ec2.FlowLogTrafficType.ALL,
      });
    }

  }
}
