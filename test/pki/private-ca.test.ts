import { Testing } from "../../lib/core";
import { PrivateCaStack } from "../../examples/private-ca/main";
import { ConfigError, HaControlPlane, PrivateCaIssuer, PrivateCaUsageMode } from "../../lib";
import { follow, resources, synth, synthStack } from "../helpers/synth";

describe("PrivateCaIssuer", () => {
  const json = synthStack(new PrivateCaStack(Testing.app(), "pca"));

  it("makes the etcd and front-proxy CAs Private CAs and keeps the Kubernetes CA with the tls provider", () => {
    const authorities = resources(json, "aws_acmpca_certificate_authority");
    expect(authorities.map((a) => a.props.certificate_authority_configuration.subject.common_name).sort()).toEqual(["etcd-ca", "front-proxy-ca"]);
    authorities.forEach((a) => {
      expect(a.props).toMatchObject({ type: "ROOT", usage_mode: "GENERAL_PURPOSE" });
      expect(a.props.certificate_authority_configuration).toMatchObject({ key_algorithm: "EC_prime256v1", signing_algorithm: "SHA256WITHECDSA" });
    });
    expect(resources(json, "tls_self_signed_cert").map((c) => c.props.subject[0].common_name)).toEqual(["kubernetes"]);
    expect(resources(json, "aws_acmpca_certificate_authority_certificate")).toHaveLength(2);
  });

  it("signs etcd and front-proxy leaves with Private CA using the template of their key usage", () => {
    const certs = resources(json, "aws_acmpca_certificate").filter((c) => !/RootCACertificate/.test(c.props.template_arn));
    const byName = (id: string) => certs.find((c) => new RegExp(`_${id}-cert_[0-9A-F]{8}$`).test(c.name))!;
    expect(byName("etcd-peer-etcd-0").props.template_arn).toBe("arn:aws:acm-pca:::template/EndEntityCertificate/V1");
    expect(byName("apiserver-etcd-client").props.template_arn).toBe("arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1");
    expect(byName("front-proxy-client").props.template_arn).toBe("arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1");
    expect(follow(json, byName("etcd-server-etcd-1").props.certificate_signing_request).type).toBe("tls_cert_request");
    expect(follow(json, byName("etcd-server-etcd-1").props.certificate_authority_arn).type).toBe("aws_acmpca_certificate_authority");
    // Kubernetes-CA leaves stay locally signed.
    expect(resources(json, "tls_locally_signed_cert").every((c) => follow(json, c.props.ca_cert_pem).props.subject[0].common_name === "kubernetes")).toBe(true);
  });

  it("issues subordinate CAs under a parent Private CA", () => {
    const parent = "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/11111111-2222-3333-4444-555555555555";
    const out = synth((s) => new HaControlPlane(s, "Cp", { clusterName: "c", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0", certificateIssuer: new PrivateCaIssuer({ parentCaArn: parent }) }));
    resources(out, "aws_acmpca_certificate_authority").forEach((a) => expect(a.props.type).toBe("SUBORDINATE"));
    const caCerts = resources(out, "aws_acmpca_certificate").filter((c) => /SubordinateCACertificate_PathLen0/.test(c.props.template_arn));
    expect(caCerts).toHaveLength(2);
    caCerts.forEach((c) => expect(c.props.certificate_authority_arn).toBe(parent));
  });

  it("refuses leaves longer than 7 days with short-lived CAs, and bad parent ARNs", () => {
    const base = { clusterName: "c", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0" };
    expect(() => synth((s) => new HaControlPlane(s, "Cp", { ...base, certificateIssuer: new PrivateCaIssuer({ usageMode: PrivateCaUsageMode.SHORT_LIVED_CERTIFICATE }) }))).toThrow(ConfigError);
    expect(() =>
      synth((s) => new HaControlPlane(s, "Cp", { ...base, leafCertificateValidityHours: 168, leafCertificateEarlyRenewalHours: 48, caValidityHours: 87600, certificateIssuer: new PrivateCaIssuer({ usageMode: PrivateCaUsageMode.SHORT_LIVED_CERTIFICATE }) })),
    ).not.toThrow();
    expect(() => new PrivateCaIssuer({ parentCaArn: "arn:aws:kms:eu-west-1:1:key/x" })).toThrow(/parentCaArn/);
  });
});
