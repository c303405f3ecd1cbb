/**
 * The bootstrap bundle archive read by the real GNU tar and sha256sum: the listing tar prints
 * (owner, mode, time, order), the bytes tar extracts, and the checksum sha256sum computes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ConfigError, renderBundleArchive } from "../../../lib";
import { describeTier, toolAvailable } from "../../harness/tiers";

const FILES = [
  { path: "/usr/local/sbin/ha-x", permissions: "0755", content: "#!/bin/sh\necho ü\n" },
  { path: "/etc/ha-control-plane/manifests/kube-apiserver.yaml", permissions: "0600", content: "a: 1\n".repeat(300) },
  { path: "/etc/systemd/system/ha-x.service", permissions: "0644", content: "[Unit]\n" },
  { path: `/etc/${"d".repeat(120)}/f.conf`, permissions: "644", content: "" },
];

describeTier("bootstrap bundle archive", toolAvailable("tar", ["--version"]), { tierLabel: "node e2e" }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bundle-archive-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const archive = renderBundleArchive(FILES);
  const file = path.join(dir, "b.tar.gz");
  writeFileSync(file, archive.bytes);

  it("lists regular files only, sorted by path, root:root, the file's mode, 2000-01-01 00:00 UTC", () => {
    const listing = execFileSync("tar", ["-tvzf", file, "--numeric-owner", "--full-time"], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } }).trim().split("\n");
    const rows = listing.map((l) => {
      const [mode, owner, , date, time, name] = l.split(/\s+/);
      return { mode, owner, when: `${date} ${time}`, name };
    });
    expect(rows.map((r) => r.name)).toEqual([`etc/${"d".repeat(120)}/f.conf`, "etc/ha-control-plane/manifests/kube-apiserver.yaml", "etc/systemd/system/ha-x.service", "usr/local/sbin/ha-x"]);
    expect(rows.map((r) => r.mode)).toEqual(["-rw-r--r--", "-rw-------", "-rw-r--r--", "-rwxr-xr-x"]);
    for (const r of rows) expect([r.owner, r.when]).toEqual(["0/0", "2000-01-01 00:00:00"]);
  });

  it("extracts every file byte for byte with its mode", () => {
    const root = path.join(dir, "root");
    execFileSync("mkdir", ["-p", root]);
    execFileSync("tar", ["-xzf", file, "-C", root, "--no-same-owner"]);
    for (const f of FILES) {
      const p = path.join(root, f.path);
      expect(readFileSync(p, "utf8")).toBe(f.content);
      expect((statSync(p).mode & 0o7777).toString(8).padStart(4, "0")).toBe(f.permissions.padStart(4, "0"));
    }
  });

  it("has the SHA-256 sha256sum computes, and the same bytes for the same files in any order", () => {
    expect(execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0]).toBe(archive.sha256);
    const again = renderBundleArchive([...FILES].reverse());
    expect(Buffer.from(again.bytes).equals(Buffer.from(archive.bytes))).toBe(true);
    expect(renderBundleArchive([{ ...FILES[0], content: "#!/bin/sh\necho changed\n" }, ...FILES.slice(1)]).sha256).not.toBe(archive.sha256);
    expect(renderBundleArchive([{ ...FILES[0], permissions: "0700" }, ...FILES.slice(1)]).sha256).not.toBe(archive.sha256);
  });

  it("refuses duplicate paths, relative or unnormalized paths and special mode bits", () => {
    expect(() => renderBundleArchive([FILES[0], { ...FILES[0], content: "x" }])).toThrow(ConfigError);
    for (const p of ["etc/x", "/etc/../x", "/etc//x", "/etc/x/"]) expect(() => renderBundleArchive([{ ...FILES[0], path: p }])).toThrow(/normalized absolute file path/);
    for (const m of ["4755", "0o644", "rw-r--r--", "0888"]) expect(() => renderBundleArchive([{ ...FILES[0], permissions: m }])).toThrow(/octal mode/);
  });
});
