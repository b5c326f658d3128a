/**
 * The workers' network. Default: private subnets with no route to the internet at all, an S3
 * gateway endpoint (free, and where every image and result byte flows) and the interface
 * endpoints that an ECS GPU instance and its container need: ECR (api + dkr) to pull the image,
 * ECS (+ agent, telemetry) to register and receive tasks, CloudWatch Logs for logs and EMF
 * metrics, STS for credentials. `egress: "nat"` trades those endpoints for one NAT gateway (for
 * workers that must reach the internet, e.g. images on third-party URLs). See docs/deploy.md.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { InfraConfig } from './config';

export type NetworkConfig = Pick<InfraConfig, 'egress' | 'vpcCidr' | 'flowLogs' | 'availabilityZones'>;

export interface VistaNetworkProps {
  readonly config: NetworkConfig;
  /** Destination of VPC flow logs (when config.flowLogs). */
  readonly logsBucket: s3.IBucket;
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

    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [this.workerSubnets] });
    if (!viaNat) {
      const endpoints = new ec2.SecurityGroup(this, 'Endpoints', {
        vpc: this.vpc,
        description: 'Vista interface endpoints: HTTPS from the GPU workers only',
        allowAllOutbound: false,
      });
      endpoints.addIngressRule(this.workerSecurityGroup, ec2.Port.tcp(443), 'HTTPS from the GPU workers');
      for (const [name, service] of Object.entries(WORKER_ENDPOINTS)) {
        this.vpc.addInterfaceEndpoint(name, { service, subnets: this.workerSubnets, privateDnsEnabled: true, open: false, securityGroups: [endpoints] });
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
