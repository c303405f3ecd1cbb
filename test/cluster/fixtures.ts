/**
 * Fixtures for the cluster-stack tests: literal access values (so most tests need no control-plane
 * stack) and a CA certificate whose kubeadm pin was computed with openssl.
 */
import { ClusterObjectsStack, ClusterObjectsStackProps, ControlPlaneAccess, IControlPlaneAccess } from "../../lib/cluster";
import { Testing } from "../../lib/core";
import { SynthJson } from "../helpers/synth";

/** A P-256 CA certificate made with `openssl req -x509 -newkey ec ... -subj /CN=kubernetes`. */
export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBfjCCASWgAwIBAgIUIAO04wIAfIMFM8/d/LpSSaf2ilMwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3ViZXJuZXRlczAeFw0yNjExMjYxNjM0MTRaFw0zNjExMjMx
NjM0MTRaMBUxEzARBgNVBAMMCmt1YmVybmV0ZXMwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASixS8oCugez+sZ2IsJgsANH1u4jGKl56hUdMo0SSarY2D2/Fd9wLz4
c+fTH+VVtpU3kIBJQyymvmvVFcwF0Xllo1MwUTAdBgNVHQ4EFgQUChfCWo8zbGgi
oti2rZIGbpJN4VAwHwYDVR0jBBgwFoAUChfCWo8zbGgioti2rZIGbpJN4VAwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBWd7bz2mK4rNd7Vko4FfsJ
TDypj6GRsQ/kRv5c3CxRcQIgKrIi2wGe2/+o94Fb/4bsho7yIHDR/arR1aevF1y1
z7s=
-----END CERTIFICATE-----
`;

/** `openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum` of {@link CA_PEM}. */
export const CA_PEM_SPKI_SHA256 = "e2e0607fae0b7e8d00c4946d1d36ac39e985b80998e105812e42a8002b105af7";

const cert = (who: string) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(`${who} certificate`).toString("base64")}\n-----END CERTIFICATE-----\n`;
const key = (who: string) => `-----BEGIN PRIVATE KEY-----\n${Buffer.from(`${who} key`).toString("base64")}\n-----END PRIVATE KEY-----\n`;

/** Literal access values of a cluster `demo`. */
export function literalAccess(overrides: Partial<IControlPlaneAccess> = {}): IControlPlaneAccess {
  return ControlPlaneAccess.fromAttributes({
    clusterName: "demo",
    apiUrl: "https://api.demo.example.com:6443",
    internalApiUrl: "https://internal-demo.elb.eu-west-1.amazonaws.com:6443",
    caCertPem: CA_PEM,
    adminCredentials: { certPem: cert("admin"), privateKeyPem: key("admin") },
    superAdminCredentials: { certPem: cert("super-admin"), privateKeyPem: key("super-admin") },
    vpcCidr: "10.0.0.0/16",
    ...overrides,
  });
}

/** A cluster-objects stack from literal access values, synthesized. */
export function synthObjects(props: Partial<ClusterObjectsStackProps> = {}): { stack: ClusterObjectsStack; json: SynthJson } {
  const stack = new ClusterObjectsStack(Testing.app(), "objects", { access: literalAccess(), ...props });
  return { stack, json: JSON.parse(Testing.synth(stack)) as SynthJson };
}
