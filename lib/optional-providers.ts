/**
 * Provider classes that only optional features use (Route 53 records, backup replication, AMI and
 * zone look-ups, AWS Private CA), loaded on first use instead of when the library is loaded. A
 * provider module is hundreds of KB of generated code that Node reads, compiles and runs at
 * `require` time; these ~0.9 MB were paid by every synth even with the features off (`npm run
 * bench`, case (a)). Node caches a loaded module, so a second call costs a map look-up.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as Route53RecordModule from "@cdktf/provider-aws/lib/route53-record";
import type * as ReplicationModule from "@cdktf/provider-aws/lib/s3-bucket-replication-configuration";
import type * as DataAwsAmiModule from "@cdktf/provider-aws/lib/data-aws-ami";
import type * as DataAwsAvailabilityZonesModule from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import type * as AcmpcaCertificateModule from "@cdktf/provider-aws/lib/acmpca-certificate";
import type * as AcmpcaCertificateAuthorityModule from "@cdktf/provider-aws/lib/acmpca-certificate-authority";
import type * as AcmpcaCertificateAuthorityCertificateModule from "@cdktf/provider-aws/lib/acmpca-certificate-authority-certificate";

/** `aws_route53_record` (DNS names of the API endpoint and etcd members). */
export function route53Record(): typeof Route53RecordModule.Route53Record {
  return (require("@cdktf/provider-aws/lib/route53-record") as typeof Route53RecordModule).Route53Record;
}

/** `aws_s3_bucket_replication_configuration` (etcd backup replication). */
export function s3BucketReplicationConfiguration(): typeof ReplicationModule.S3BucketReplicationConfigurationA {
  return (require("@cdktf/provider-aws/lib/s3-bucket-replication-configuration") as typeof ReplicationModule).S3BucketReplicationConfigurationA;
}

/** `data.aws_ami` (AMI look-up when no AMI id is given). */
export function dataAwsAmi(): typeof DataAwsAmiModule.DataAwsAmi {
  return (require("@cdktf/provider-aws/lib/data-aws-ami") as typeof DataAwsAmiModule).DataAwsAmi;
}

/** `data.aws_availability_zones` (zone look-up when no zones are given). */
export function dataAwsAvailabilityZones(): typeof DataAwsAvailabilityZonesModule.DataAwsAvailabilityZones {
  return (require("@cdktf/provider-aws/lib/data-aws-availability-zones") as typeof DataAwsAvailabilityZonesModule).DataAwsAvailabilityZones;
}

/** `aws_acmpca_certificate` (AWS Private CA issuer). */
export function acmpcaCertificate(): typeof AcmpcaCertificateModule.AcmpcaCertificate {
  return (require("@cdktf/provider-aws/lib/acmpca-certificate") as typeof AcmpcaCertificateModule).AcmpcaCertificate;
}

/** `aws_acmpca_certificate_authority` (AWS Private CA issuer). */
export function acmpcaCertificateAuthority(): typeof AcmpcaCertificateAuthorityModule.AcmpcaCertificateAuthority {
  return (require("@cdktf/provider-aws/lib/acmpca-certificate-authority") as typeof AcmpcaCertificateAuthorityModule).AcmpcaCertificateAuthority;
}

/** `aws_acmpca_certificate_authority_certificate` (AWS Private CA issuer). */
export function acmpcaCertificateAuthorityCertificate(): typeof AcmpcaCertificateAuthorityCertificateModule.AcmpcaCertificateAuthorityCertificate {
  return (require("@cdktf/provider-aws/lib/acmpca-certificate-authority-certificate") as typeof AcmpcaCertificateAuthorityCertificateModule)
    .AcmpcaCertificateAuthorityCertificate;
}
