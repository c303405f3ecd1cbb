import { ESLint } from "eslint";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

/** Lints `code` as if it were a file of the library, with the project's own eslint config. */
async function lint(code: string, file = "lib/example-under-lint.ts"): Promise<string[]> {
  // The config is loaded with require(): ESLint's own loader uses a dynamic import jest's VM refuses.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const config = require(path.join(ROOT, "eslint.config.js"));
  const eslint = new ESLint({ cwd: ROOT, overrideConfigFile: true, overrideConfig: config });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result.messages.filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

describe("lint: provider imports", () => {
  jest.setTimeout(60000);

  it.each([
    ['import { Instance } from "@cdktf/provider-aws";', "aws root import"],
    ['import * as aws from "@cdktf/provider-aws";', "aws namespace import"],
    ['import { PrivateKey } from "@cdktf/provider-tls";', "tls root import"],
    ['import { Namespace } from "@cdktf/provider-kubernetes";', "kubernetes root import"],
    ['import { Instance } from "@cdktn/provider-aws";', "cdktn root import"],
    ['export { Instance } from "@cdktf/provider-aws";', "root re-export"],
  ])("rejects %s (%s)", async (code) => {
    const errors = await lint(`${code}\nexport const x = 1;\n`);
    expect(errors.join("\n")).toMatch(/Import provider bindings by path/);
  });

  it("rejects require() and dynamic import() of a provider root", async () => {
    const errors = await lint(
      'export const aws = require("@cdktf/provider-aws");\nexport const tls = import("@cdktf/provider-tls");\n',
      "lib/example-under-lint.js",
    );
    expect(errors.filter((e) => /by path/.test(e))).toHaveLength(2);
  });

  it("accepts path imports", async () => {
    const errors = await lint(
      'import { Instance } from "@cdktf/provider-aws/lib/instance";\nimport { PrivateKey } from "@cdktf/provider-tls/lib/private-key";\nexport const x = [Instance, PrivateKey];\n',
    );
    expect(errors).toEqual([]);
  });
});
