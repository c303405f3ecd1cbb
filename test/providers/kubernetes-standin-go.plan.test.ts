/**
 * The hashicorp/kubernetes stand-in's own Go tests (test/providers/kubernetes/*_test.go): the SDK's
 * schema checks, and the conversion of every kubernetes resource of the library's cluster-objects
 * stacks checked against the typed k8s.io/api structs (strict decode), read back, and refused when an
 * attribute has no conversion. Run in the plan tier because they need what builds the stand-in for
 * it (Go and the module cache scripts/setup-test-env.sh fills); `-mod=readonly`: the committed go.sum
 * is the pin.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { describeTier, toolAvailable } from "../harness/tiers";

const DIR = path.resolve(__dirname, "kubernetes");

describeTier("kubernetes stand-in Go tests", toolAvailable("go", ["version"]), { tierLabel: "provider plan" }, () => {
  it("go vet and go test pass", async () => {
    const env = { ...process.env, GOFLAGS: "-mod=readonly -buildvcs=false", CGO_ENABLED: "0", GOTOOLCHAIN: "local" };
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile("go", args, { cwd: DIR, env, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
        ),
      );
    const vet = await run(["vet", "./..."]);
    expect([vet.code, vet.out]).toEqual([0, ""]);
    const test = await run(["test", "-count=1", "./..."]);
    if (test.code !== 0) throw new Error(test.out);
    expect(test.out).toMatch(/^ok\s/m);
  }, 900_000);
});
