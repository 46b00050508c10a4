// One linter and one formatter for every file: eslint with typescript-eslint, and dprint
// through @effect/eslint-plugin with the settings Effect's own repository uses.
import effectPlugin from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default [
  // .snippets*: the README and docs blocks as check-snippets writes them (checked there, with their own settings)
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "bench/results/**",
      "coverage/**",
      ".snippets*/**",
      "test/.tmp-*/**",
      ".stryker-tmp/**",
      "reports/**",
      "mutation/generated/**"
    ]
  },
  ...tseslint.configs.recommended,
  ...effectPlugin.configs.dprint,
  {
    languageOptions: { parser: tseslint.parser },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/consistent-type-imports": "error"
    }
  }
]
