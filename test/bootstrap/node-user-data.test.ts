import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { NODE_PATHS, claimSlotScript, nodeScript, renderNodeEnv, renderNodeUserData, shellQuote } from "../../lib";

describe("node user data renderer", () => {
  const text = renderNodeUserData({ clusterName: "prod", nodeRole: "etcd", slotName: "etcd-1", dataVolume: "by-slot" });
  const doc = parse(text);

  it("is a cloud-config that disables password SSH and installs no keys", () => {
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(doc.ssh_pwauth).toBe(false);
    expect(doc.disable_root).toBe(true);
    expect(doc.ssh_authorized_keys).toBeUndefined();
  });

  it("writes the env file, the claim script and unit, and chrony pointed at Amazon Time Sync", () => {
    const files = Object.fromEntries(doc.write_files.map((f: { path: string; content: string; permissions: string }) => [f.path, f]));
    expect(files[NODE_PATHS.claimScript].content).toBe(claimSlotScript());
    expect(files[NODE_PATHS.claimScript].permissions).toBe("0755");
    expect(files[NODE_PATHS.env].content).toContain("SLOT_NAME='etcd-1'");
    expect(files[NODE_PATHS.chronySources].content).toMatch(/^server 169\.254\.169\.123 prefer iburst minpoll 4 maxpoll 4$/m);
    expect(files[NODE_PATHS.chronySources].content).toMatch(/^server fd00:ec2::123 /m);
    expect(files[NODE_PATHS.chronyConf].content).toMatch(/^makestep 1\.0 3$/m);
    expect(files[NODE_PATHS.claimUnit].content).toMatch(/Before=etcd\.service kubelet\.service/);
    expect(doc.runcmd).toContainEqual(["systemctl", "enable", "--now", "ha-claim-slot.service"]);
  });

  it("quotes env values so a value can never run as shell", () => {
    expect(shellQuote("a'b; rm -rf /")).toBe(`'a'\\''b; rm -rf /'`);
    expect(renderNodeEnv({ clusterName: "x", nodeRole: "$(id)" })).toContain("NODE_ROLE='$(id)'");
  });

  it("runs the script with strict mode", () => {
    expect(claimSlotScript()).toMatch(/^#!\/usr\/bin\/env bash\n/);
    expect(claimSlotScript()).toContain("set -euo pipefail");
  });
});

describe("shared shell functions (# ha-include)", () => {
  const dir = path.join(__dirname, "../../lib/bootstrap/scripts");
  const scripts = fs.readdirSync(dir).filter((f: string) => f.endsWith(".sh"));
  const callers = scripts.filter((f: string) => /\bread_slot_env\b/.test(fs.readFileSync(`${dir}/${f}`, "utf8")));

  it("writes read_slot_env once, in include/read-slot-env.sh, and every caller includes it", () => {
    expect(callers.length).toBeGreaterThanOrEqual(6);
    for (const f of callers) {
      const source = fs.readFileSync(`${dir}/${f}`, "utf8");
      expect({ f, defines: /^read_slot_env\(\)/m.test(source), includes: source.includes("# ha-include: read-slot-env.sh") }).toEqual({ f, defines: false, includes: true });
    }
  });

  it("ships every caller self-contained: the function defined once, before its first use", () => {
    for (const f of callers) {
      const shipped = nodeScript(f);
      expect(shipped.match(/^read_slot_env\(\) \{$/gm)).toHaveLength(1);
      expect(shipped).not.toContain("ha-include");
      expect(shipped.indexOf("read_slot_env() {")).toBeLessThan(shipped.search(/^\s*read_slot_env "/m));
    }
  });
});
