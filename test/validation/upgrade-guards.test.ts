/**
 * Day-2 upgrade guards (issue 18 findings 1 and 2). Oracles, from the Kubernetes documentation:
 * - Version Skew Policy (kubernetes.io/releases/version-skew-policy): "In highly-available (HA)
 *   clusters, the newest and oldest kube-apiserver instances must be within one minor version."
 * - Upgrading kubeadm clusters: "Skipping MINOR versions when upgrading is unsupported."
 * A rolling replacement runs old and new API servers side by side, so a deploy may move at most
 * one minor forward and never back. etcd: a downgrade is refused against the deployed release.
 */
import { HaControlPlane, HaControlPlaneProps } from "../../lib/control-plane";
import { DEFAULT_ETCD_RELEASE } from "../../lib/bootstrap/etcd";
import { BadInput, REFERENCE_PROPS, expectConfigError, scope } from "./config-error";

type Row = BadInput<Partial<HaControlPlaneProps>>;

const build = (overrides: Partial<HaControlPlaneProps>): HaControlPlane => new HaControlPlane(scope(), "ControlPlane", { ...REFERENCE_PROPS, ...overrides });

describe("Kubernetes version skew on upgrade", () => {
  /** Written out from the skew policy: deployed → target, allowed or not. */
  const table: ReadonlyArray<readonly [string, string, "ok" | "downgrade" | "skip"]> = [
    ["1.33.5", "1.33.5", "ok"],
    ["1.33.5", "1.33.6", "ok"],
    ["1.33.5", "1.34.0", "ok"],
    ["1.33.5", "1.34.2", "ok"],
    ["v1.33.5", "1.34.1", "ok"],
    ["1.33.5", "1.35.0", "skip"],
    ["1.32.9", "1.35.0", "skip"],
    ["1.33.5", "1.33.4", "downgrade"],
    ["1.34.0", "1.33.9", "downgrade"],
    ["1.35.1", "1.32.0", "downgrade"],
  ];
  for (const [deployed, target, verdict] of table) {
    if (verdict === "ok") {
      it(`accepts ${deployed} → ${target}`, () => {
        expect(() => build({ kubernetesVersion: target, kubernetesVersionDeployed: deployed })).not.toThrow();
      });
    } else {
      const row: Row = {
        title: `refuses ${deployed} → ${target} (${verdict})`,
        props: { kubernetesVersion: target, kubernetesVersionDeployed: deployed },
        prop: "kubernetesVersion",
        value: target,
        fix: verdict === "skip" ? /one minor at a time.*1\.\d+\.x/ : /keep kubernetesVersion at/,
      };
      it(row.title, () => {
        expectConfigError(() => build(row.props), row);
      });
    }
  }

  it("names the skew policy and the next minor in a skip", () => {
    expect(() => build({ kubernetesVersion: "1.35.0", kubernetesVersionDeployed: "1.33.5" })).toThrow(/within one minor version[\s\S]*newest 1\.34\.x/);
  });

  it("refuses a deployed version that is not a Kubernetes release", () => {
    const row: Row = { title: "", props: { kubernetesVersionDeployed: "latest" }, prop: "kubernetesVersionDeployed", value: "latest" };
    expectConfigError(() => build(row.props), row);
  });

  it("checks nothing without kubernetesVersionDeployed (a new cluster)", () => {
    expect(() => build({ kubernetesVersion: "1.35.0" })).not.toThrow();
  });
});

describe("etcd downgrade", () => {
  const release = (version: string) => ({ ...DEFAULT_ETCD_RELEASE, version });

  it("refuses an etcd release older than the deployed one", () => {
    const row: Row = { title: "", props: { etcdRelease: release("3.5.17"), etcdVersionDeployed: "3.5.21" }, prop: "etcdRelease.version", value: "3.5.17", fix: /keep etcdRelease.version at 3\.5\.21/ };
    expectConfigError(() => build(row.props), row);
  });

  it("refuses the default release when a newer one is deployed", () => {
    const row: Row = { title: "", props: { etcdVersionDeployed: "3.5.22" }, prop: "etcdRelease.version", value: DEFAULT_ETCD_RELEASE.version };
    expectConfigError(() => build(row.props), row);
  });

  it("refuses a minor downgrade 3.5 → 3.4", () => {
    expect(() => build({ etcdRelease: release("3.4.35"), etcdVersionDeployed: "3.5.21" })).toThrow(/etcdRelease\.version/);
  });

  it("accepts the same or a newer etcd release", () => {
    expect(() => build({ etcdRelease: release("3.5.21"), etcdVersionDeployed: "3.5.21" })).not.toThrow();
    expect(() => build({ etcdRelease: release("3.5.22"), etcdVersionDeployed: "3.5.21" })).not.toThrow();
    expect(() => build({ etcdRelease: release("3.5.21"), etcdVersionDeployed: "3.4.35" })).not.toThrow();
  });

  it("refuses a deployed etcd version that is not a release", () => {
    const row: Row = { title: "", props: { etcdVersionDeployed: "3.5" }, prop: "etcdVersionDeployed", value: "3.5" };
    expectConfigError(() => build(row.props), row);
  });
});
