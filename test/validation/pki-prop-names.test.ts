/**
 * A bad PKI policy on HaControlPlane is reported under the prop the user set, not the internal
 * `pki.*` name ClusterPki uses.
 */
import { ConfigError, HaControlPlane } from "../../lib";
import { synth } from "../helpers/synth";

const BASE = { clusterName: "c", availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"], amiId: "ami-0123456789abcdef0" };

function refusal(extra: Record<string, unknown>): ConfigError {
  try {
    synth((s) => new HaControlPlane(s, "Cp", { ...BASE, ...extra }));
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("PKI policy errors name the HaControlPlane prop", () => {
  it.each([
    [{ leafCertificateValidityHours: 8761 }, "leafCertificateValidityHours"],
    [{ leafCertificateValidityHours: 23 }, "leafCertificateValidityHours"],
    [{ leafCertificateEarlyRenewalHours: 8760 }, "leafCertificateEarlyRenewalHours"],
    [{ caValidityHours: 100 }, "caValidityHours"],
    [{ certificateKeyAlgorithm: "DSA" }, "certificateKeyAlgorithm"],
  ])("%j is refused naming %s", (props, prop) => {
    const err = refusal(props);
    expect(err.prop).toBe(prop);
    expect(err.message.startsWith(`${prop} is `)).toBe(true);
    expect(err.message).not.toContain("pki.");
  });
});
