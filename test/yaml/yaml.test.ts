import * as fc from "fast-check";
import { stringify } from "yaml";
import { isFastYaml, toYaml } from "../../lib/yaml";

// The oracle is the `yaml` package itself: lib/yaml.ts promises its exact output, and writes a
// document without it only inside a subset it knows. Every assertion compares with `yaml`.

const PLAIN_KEYS = ["a", "name", "path", "content", "apiVersion", "kind", "certificate-authority-data", "kubernetes.io/cluster/x", "x_y"];
const ODD_KEYS = ["true", "null", "1", "a b", "-k", "k:", "#k", ""];
const key = fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...PLAIN_KEYS) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_KEYS) });
// Characters that decide quoting and block style in YAML.
const PIECES = ["a", "b", "0", "1", ".", "-", "+", "e", " ", "\n", "\t", ":", "#", "'", '"', "\\", "[", "]", "{", "}", ",", "&", "*", "!", "|", ">", "%", "@", "`", "?", "~", "$", "/", "é", "\u0001", "null", "true", "0o7", "0x1F", ".inf", "---", "...", "${TfToken[TOKEN.1]}"];

const scalarString = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((p) => p.join(""));
const longString = fc.tuple(fc.string({ minLength: 0, maxLength: 120 }), scalarString).map(([a, b]) => a + b);
// Mostly the kind of text node files hold, so that the fast path is exercised, not only skipped.
const safeString = fc.array(fc.constantFrom("a", "b", "z", "0", "7", "-", "/", ".", " ", "=", "\n", "${TfToken[TOKEN.1]}"), { maxLength: 12 }).map((p) => p.join(""));
const scalar = fc.oneof(
  { weight: 6, arbitrary: safeString },
  { weight: 2, arbitrary: scalarString },
  { weight: 1, arbitrary: longString },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);
const doc = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, tie("map"), tie("seq")),
  map: fc.dictionary(key, tie("value"), { maxKeys: 5 }),
  seq: fc.array(tie("value"), { maxLength: 4 }),
})).map;

describe("toYaml", () => {
  it("writes exactly what yaml.stringify writes, at width 0 and at the default width", () => {
    let fast = 0;
    let runs = 0;
    fc.assert(
      fc.property(doc, fc.constantFrom(0, undefined), (d, lineWidth) => {
        const options = lineWidth === undefined ? {} : { lineWidth };
        runs++;
        if (isFastYaml(d, options)) fast++;
        expect(toYaml(d, options)).toBe(lineWidth === undefined ? stringify(d) : stringify(d, options));
      }),
      { numRuns: 600 },
    );
    // The comparison is only worth something if the fast path wrote a fair share itself.
    expect(fast / runs).toBeGreaterThan(0.15);
  });

  it("writes the shapes of node files without yaml: block scripts, quoted modes, nested lists", () => {
    const cloudConfig = {
      ssh_pwauth: false,
      packages: ["chrony"],
      write_files: [
        { path: "/etc/a.sh", permissions: "0755", owner: "root:root", content: "#!/bin/bash\nset -eu\n\necho \"${X}\" # hi\n" },
        { path: "/etc/b.env", permissions: "0600", owner: "root:root", content: "A=1\nB='2'" },
      ],
      runcmd: [["systemctl", "enable", "--now", "x.service"], "/usr/local/bin/x || exit 1"],
      empty: [],
      none: {},
    };
    const pod = { apiVersion: "v1", kind: "Pod", spec: { containers: [{ command: ["kube-apiserver", "--a=b", "--c=d:e"], ports: [{ containerPort: 6443 }] }] } };
    for (const d of [cloudConfig, pod]) {
      for (const options of [{ lineWidth: 0 }, {}]) {
        expect(isFastYaml(d, options)).toBe(true);
        expect(toYaml(d, options)).toBe(stringify(d, options));
      }
    }
  });

  it("hands what it does not know to yaml: shared objects (anchors), undefined values, escapes", () => {
    const shared = { a: "1" };
    for (const d of [{ x: shared, y: shared }, { a: undefined, b: 1 }, { s: "x\u0001" }, { s: "a\\b: c" }, [1, 2], "text"]) {
      expect(isFastYaml(d, { lineWidth: 0 })).toBe(false);
      expect(toYaml(d, { lineWidth: 0 })).toBe(stringify(d, { lineWidth: 0 }));
    }
  });
});

describe("the reference cluster's node files", () => {
  it("are written without loading yaml (every document is inside the subset toYaml writes itself)", () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { HaClusterStack } = require("../../examples/ha-cluster/main") as typeof import("../../examples/ha-cluster/main");
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const yamlModule = require("../../lib/yaml") as typeof import("../../lib/yaml");
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Testing } = require("cdktf") as typeof import("cdktf");
      const json = Testing.synth(new HaClusterStack(Testing.app(), "ha-cluster"));
      expect(json).toContain("aws_launch_template");
      expect(yamlModule.yamlPackageLoaded()).toBe(false);
      // The probe works: a document outside the subset loads it.
      yamlModule.toYaml({ shared: undefined });
      expect(yamlModule.yamlPackageLoaded()).toBe(true);
    });
  });
});
