/**
 * The test helpers read a bootstrap bundle's files with the real GNU tar in two ways
 * (test/helpers/synth.ts): extracted to disk and read back (`tarExtracted`), or, as root, from
 * `tar -xzvv -O` without touching the disk (`tarListed`, ~20x fewer file operations; the property
 * tier reads ~4 bundles a run). Both must give the same files, bytes and modes, for every bundle
 * the library makes and for archives shaped to catch a parser mistake.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Testing } from "../../../lib/core";
import { EtcdTopology, HaControlPlane } from "../../../lib";
import { HaClusterStack } from "../../../examples/ha-cluster/main";
import { resources, synth, synthStack, tarExtracted, tarListed } from "../../helpers/synth";

const asRoot = process.getuid?.() === 0;
const AZS = ["us-east-1a", "us-east-1b", "us-east-1c"];

/** A .tar.gz made by the real tar from `files` (path -> [content, mode]), in the given order. */
function archive(files: Array<[string, string, number]>, extra: string[] = []): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), "bundle-read-"));
  try {
    const root = path.join(dir, "root");
    for (const [p, content, mode] of files) {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), content);
      chmodSync(path.join(root, p), mode);
    }
    execFileSync("tar", ["-czf", path.join(dir, "a.tgz"), "-C", root, ...extra, ...files.map(([p]) => p)]);
    return readFileSync(path.join(dir, "a.tgz"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

(asRoot ? describe : describe.skip)("bundle files: tar to stdout equals tar to disk (root)", () => {
  it("for every bundle of the reference example and of a stacked control plane", () => {
    const jsons = [synthStack(new HaClusterStack(Testing.app(), "ref")), synth((s) => new HaControlPlane(s, "Cp", { clusterName: "st", availabilityZones: AZS, amiId: "ami-0123456789abcdef0", etcdTopology: EtcdTopology.STACKED }))];
    const bundles = jsons.flatMap((j) => resources(j, "aws_s3_object").filter((o) => o.props.content_base64 !== undefined)).map((o) => Buffer.from(String(o.props.content_base64), "base64"));
    expect(bundles.length).toBeGreaterThanOrEqual(3);
    const onDisk = tarExtracted(bundles);
    bundles.forEach((b, i) => {
      expect(onDisk[i].length).toBeGreaterThan(5);
      expect(tarListed(b)).toEqual(onDisk[i]);
    });
    // Not vacuous: several modes and non-empty contents.
    const all = onDisk.flat();
    expect(new Set(all.map((f) => f.permissions)).size).toBeGreaterThan(1);
    expect(all.every((f) => f.content.length > 0)).toBe(true);
  });

  it("for odd modes, multi-byte text, empty files, spaces in names and nested directories", () => {
    const a = archive([
      ["etc/a file.conf", "ä ö ü — ✓\n", 0o640],
      ["usr/local/sbin/x", "#!/bin/sh\n", 0o4755],
      ["usr/local/sbin/y", "", 0o2750],
      ["var/lib/z", "z", 0o1700],
      ["etc/ro", "r", 0o400],
    ]);
    const onDisk = tarExtracted([a])[0];
    expect(onDisk.map((f) => [f.path, f.permissions])).toEqual([
      ["/etc/a file.conf", "0640"],
      ["/etc/ro", "0400"],
      ["/usr/local/sbin/x", "0755"],
      ["/usr/local/sbin/y", "0750"],
      ["/var/lib/z", "0700"],
    ]);
    expect(tarListed(a)).toEqual(onDisk);
  });

  it("refuses a member that is not a regular file or directory (a link)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bundle-read-"));
    try {
      mkdirSync(path.join(dir, "root/etc"), { recursive: true });
      writeFileSync(path.join(dir, "root/etc/f"), "f");
      execFileSync("ln", ["-s", "f", path.join(dir, "root/etc/link")]);
      execFileSync("tar", ["-czf", path.join(dir, "a.tgz"), "-C", path.join(dir, "root"), "etc"]);
      expect(() => tarListed(readFileSync(path.join(dir, "a.tgz")))).toThrow(/not a regular file or directory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
