import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import {
  BOOTSTRAP_TOKEN_PATTERN,
  bootstrapTokenFromDigest,
  caCertHash,
  joinCommand,
  renderBootstrapKubeconfig,
  renderDiscoveryKubeconfig,
} from "../../lib/cluster";
import { describeTier, toolAvailable } from "../harness/tiers";
import { CA_PEM, CA_PEM_SPKI_SHA256 } from "./fixtures";

describe("caCertHash", () => {
  it("is sha256 of the DER SubjectPublicKeyInfo, as openssl computes it for kubeadm", () => {
    expect(caCertHash(CA_PEM)).toBe(`sha256:${CA_PEM_SPKI_SHA256}`);
  });

  it("refuses what is not a certificate", () => {
    expect(() => caCertHash("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")).toThrow(/^caCertPem is .*: is not a PEM certificate/);
  });
});

describeTier("caCertHash against openssl", toolAvailable("openssl", ["version"]), { tierLabel: "openssl" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ca-pin-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["rsa:2048", ["-newkey", "rsa:2048"]],
    ["ec P-256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
  ])("matches `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum` for a fresh %s CA", (label, keyArgs) => {
    const stem = join(dir, label.replace(/\W/g, "_"));
    execFileSync("openssl", ["req", "-x509", ...keyArgs, "-nodes", "-keyout", `${stem}.key`, "-out", `${stem}.crt`, "-days", "1", "-subj", "/CN=kubernetes"], { stdio: "ignore" });
    const pin = execFileSync("bash", ["-c", `openssl x509 -pubkey -noout -in '${stem}.crt' | openssl pkey -pubin -outform der | sha256sum`], { encoding: "utf8" }).split(" ")[0];
    expect(pin).toMatch(/^[0-9a-f]{64}$/);
    expect(caCertHash(readFileSync(`${stem}.crt`, "utf8"))).toBe(`sha256:${pin}`);
  });
});

describe("bootstrap token derivation", () => {
  it("always yields a token of kubeadm's shape", () => {
    for (let i = 0; i < 500; i++) {
      const { id, secret } = bootstrapTokenFromDigest(createHash("sha512").update(`seed ${i}`).digest("hex"));
      expect(`${id}.${secret}`).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    }
  });

  it("maps each digest byte to a character modulo 36, like Terraform's wrapping element()", () => {
    // 0x00 → a, 0x23 (35) → 9, 0x24 (36) → a again, 0xff (255 = 7·36 + 3) → d
    const digest = "00" + "23" + "24" + "ff" + "01" + "02" + "00".repeat(16) + "00".repeat(42);
    expect(bootstrapTokenFromDigest(digest)).toEqual({ id: "a9adbc", secret: "a".repeat(16) });
  });

  it("spreads over the whole alphabet (no character is unreachable)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const { id, secret } = bootstrapTokenFromDigest(createHash("sha512").update(`x${i}`).digest("hex"));
      for (const c of id + secret) seen.add(c);
    }
    expect(seen.size).toBe(36);
  });
});

describe("join renderers", () => {
  it("renders cluster-info's kubeconfig as kubeadm does", () => {
    const text = renderDiscoveryKubeconfig({ server: "https://lb:6443", caDataBase64: "Q0E=" });
    expect(parse(text)).toEqual({
      apiVersion: "v1",
      clusters: [{ cluster: { "certificate-authority-data": "Q0E=", server: "https://lb:6443" }, name: "" }],
      contexts: null,
      "current-context": "",
      kind: "Config",
      preferences: {},
      users: null,
    });
  });

  it("renders the kubelet's bootstrap kubeconfig with the token as the only credential", () => {
    const k = parse(renderBootstrapKubeconfig({ clusterName: "demo", server: "https://lb:6443", caDataBase64: "Q0E=", token: "abcdef.0123456789abcdef" }));
    expect(k.users).toEqual([{ name: "tls-bootstrap-token-user", user: { token: "abcdef.0123456789abcdef" } }]);
    expect(k.contexts[0].context).toEqual({ cluster: "demo", user: "tls-bootstrap-token-user" });
  });

  it("joins with file discovery only: the credentials are in the file (anonymous discovery gets 401 here)", () => {
    expect(joinCommand()).toBe("kubeadm join --discovery-file /etc/kubernetes/discovery.yaml");
    expect(joinCommand("/run/discovery.yaml")).toBe("kubeadm join --discovery-file /run/discovery.yaml");
  });
});
