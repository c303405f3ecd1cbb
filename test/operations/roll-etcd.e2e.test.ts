/**
 * Runs the real ha-roll-etcd script against a stub AWS CLI that simulates instance refreshes and
 * the EtcdHealthyMembers metric: members are refreshed strictly one at a time, each only after the
 * whole cluster reported healthy, and the roll stops when the cluster is not healthy.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { renderedScript } from "../helpers/scripts";
import { describeTier, toolAvailable } from "../harness/tiers";

const run = promisify(execFile);

function stub(dir: string, healthyAfterRefresh: boolean): string {
  const bin = path.join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  // State: "refreshing" while a refresh runs (two polls), "degraded" for one health poll after it.
  writeFileSync(
    path.join(bin, "aws"),
    `#!/usr/bin/env bash
echo "$*" >> "${dir}/calls.log"
state="${dir}/state"
case "$*" in
  autoscaling\\ start-instance-refresh*)
    [ -e "$state.refreshing" ] && { echo "refresh already running" >&2; exit 1; }
    echo 2 > "$state.refreshing"; echo "refresh-$(date +%s%N)" ;;
  autoscaling\\ describe-instance-refreshes*)
    n=$(cat "$state.refreshing")
    if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$state.refreshing"; echo InProgress
    else rm -f "$state.refreshing"; echo ${healthyAfterRefresh ? "1 > \"$state.degraded\"" : "999 > \"$state.degraded\""}; echo Successful; fi ;;
  cloudwatch\\ get-metric-statistics*)
    if [ -e "$state.refreshing" ]; then printf '2.0\\t2.0\\n'; exit 0; fi
    d=$(cat "$state.degraded" 2>/dev/null || echo 0)
    if [ "$d" -gt 0 ]; then echo $((d - 1)) > "$state.degraded"; printf '2.0\\t3.0\\n'; else printf '3.0\\t3.0\\n'; fi ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
  );
  chmodSync(path.join(bin, "aws"), 0o755);
  return bin;
}

describeTier("ha-roll-etcd (real bash, stubbed AWS)", toolAvailable("bash", ["--version"]), { tierLabel: "node e2e" }, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const roll = (healthy: boolean) => {
    const dir = mkdtempSync(path.join(tmpdir(), "roll-etcd-"));
    dirs.push(dir);
    const bin = stub(dir, healthy);
    const result = run("bash", [renderedScript("ha-roll-etcd.sh"), "prod", "prod-etcd-0", "prod-etcd-1", "prod-etcd-2"], {
      env: { PATH: `${bin}:/usr/bin:/bin`, POLL_SECONDS: "0", HEALTH_TIMEOUT_SECONDS: "5", REFRESH_TIMEOUT_SECONDS: "5" },
      timeout: 30000,
    });
    return { dir, result };
  };

  it("refreshes members one at a time, each after every member reported the full count healthy", async () => {
    const { dir, result } = roll(true);
    await result;
    const calls = readFileSync(path.join(dir, "calls.log"), "utf8").trim().split("\n");
    const starts = calls.map((c, i) => [c, i] as const).filter(([c]) => c.startsWith("autoscaling start-instance-refresh"));
    expect(starts.map(([c]) => /--auto-scaling-group-name (\S+)/.exec(c)![1])).toEqual(["prod-etcd-0", "prod-etcd-1", "prod-etcd-2"]);
    // Between two refreshes: the first finished (Successful) and health was checked for all three members.
    for (let k = 1; k < starts.length; k++) {
      const between = calls.slice(starts[k - 1][1], starts[k][1]);
      expect(between.some((c) => c.startsWith("autoscaling describe-instance-refreshes"))).toBe(true);
      for (const slot of ["etcd-0", "etcd-1", "etcd-2"]) expect(between.some((c) => c.includes(`Name=Slot,Value=${slot}`))).toBe(true);
    }
    expect(calls.filter((c) => c.includes("MinHealthyPercentage")).every((c) => c.includes('"SkipMatching":true'))).toBe(true);
  });

  it("stops before the next member when the cluster does not come back healthy", async () => {
    const { dir, result } = roll(false);
    await expect(result).rejects.toThrow(/cluster not healthy; not rolling prod-etcd-1/);
    const starts = readFileSync(path.join(dir, "calls.log"), "utf8").split("\n").filter((c) => c.startsWith("autoscaling start-instance-refresh"));
    expect(starts).toHaveLength(1);
  });
});
