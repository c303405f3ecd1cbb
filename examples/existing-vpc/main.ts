/**
 * A control plane in an existing VPC: three private subnets (one per zone) and three public ones,
 * 5 external etcd members (tolerating two failures), internal and public API endpoints with
 * Route 53 names.
 */
import { Construct } from "constructs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import { EndpointAccess, ExistingNetwork, HaControlPlane } from "cdktf-ha-control-plane";

/** The existing-VPC stack. */
export class ExistingVpcStack extends TerraformStack {
  /** The control plane. */
  public readonly controlPlane: HaControlPlane;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "us-east-2" });
    const network = ExistingNetwork.fromAttributes({
      vpcId: "vpc-0123456789abcdef0",
      vpcCidr: "172.20.0.0/16",
      privateSubnets: [
        { subnetId: "subnet-0aaaaaaaaaaaaaaa1", availabilityZone: "us-east-2a", cidrBlock: "172.20.0.0/20" },
        { subnetId: "subnet-0aaaaaaaaaaaaaaa2", availabilityZone: "us-east-2b", cidrBlock: "172.20.16.0/20" },
        { subnetId: "subnet-0aaaaaaaaaaaaaaa3", availabilityZone: "us-east-2c", cidrBlock: "172.20.32.0/20" },
      ],
      publicSubnets: [
        { subnetId: "subnet-0bbbbbbbbbbbbbbb1", availabilityZone: "us-east-2a", cidrBlock: "172.20.128.0/24" },
        { subnetId: "subnet-0bbbbbbbbbbbbbbb2", availabilityZone: "us-east-2b", cidrBlock: "172.20.129.0/24" },
        { subnetId: "subnet-0bbbbbbbbbbbbbbb3", availabilityZone: "us-east-2c", cidrBlock: "172.20.130.0/24" },
      ],
    });
    this.controlPlane = new HaControlPlane(this, "ControlPlane", {
      clusterName: "shared-services",
      network,
      apiServerCount: 3,
      etcdMemberCount: 5,
      amiId: "ami-0cfde0ea8edd312d4",
      endpointAccess: EndpointAccess.INTERNAL_AND_PUBLIC,
      allowedApiCidrs: ["203.0.113.0/24", "198.51.100.0/24"],
      privateHostedZoneId: "Z0PRIVATEZONE0000001",
      internalDnsName: "api.shared.internal.example.com",
      publicHostedZoneId: "Z0PUBLICZONE00000001",
      publicDnsName: "api.shared.example.com",
      serviceCidr: "10.96.0.0/12",
      podCidr: "10.244.0.0/16",
    });
  }
}

if (require.main === module) {
  const app = new App();
  new ExistingVpcStack(app, "existing-vpc");
  app.synth();
}
