// Lint: typescript-eslint's recommended rules plus the one rule this library lives by —
// provider packages are imported by path (`@cdktf/provider-aws/lib/instance`), never by root:
// a root import loads every binding of the provider (seconds and hundreds of MB per synth).
const tseslint = require("typescript-eslint");

const PROVIDER_ROOT = "^@(cdktf|cdktn)/provider-[a-z0-9-]+/?$";
const MESSAGE =
  "Import provider bindings by path (e.g. '@cdktf/provider-aws/lib/instance'): a root import loads the whole provider at synth time.";

/** Flags `require("@cdktf/provider-aws")`, which no-restricted-imports does not see. */
const noProviderRootRequire = {
  meta: { type: "problem", messages: { root: MESSAGE }, schema: [] },
  create(context) {
    const re = new RegExp(PROVIDER_ROOT);
    return {
      CallExpression(node) {
        const arg = node.arguments[0];
        const isRequire = node.callee.type === "Identifier" && node.callee.name === "require";
        const isImport = node.callee.type === "Import";
        if ((isRequire || isImport) && arg && arg.type === "Literal" && typeof arg.value === "string" && re.test(arg.value)) {
          context.report({ node, messageId: "root" });
        }
      },
      ImportExpression(node) {
        const arg = node.source;
        if (arg && arg.type === "Literal" && typeof arg.value === "string" && re.test(arg.value)) {
          context.report({ node, messageId: "root" });
        }
      },
    };
  },
};

module.exports = tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "cdktf.out/**", "coverage/**", "**/.terraform/**", ".stryker-tmp/**", ".shell-mutation-tmp/**", "reports/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.js"],
    plugins: { local: { rules: { "no-provider-root-require": noProviderRootRequire } } },
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: PROVIDER_ROOT, message: MESSAGE }] }],
      "local/no-provider-root-require": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["**/*.js"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
