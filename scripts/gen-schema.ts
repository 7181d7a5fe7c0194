/**
 * Writes schema/manifest.schema.json from the zod ManifestSchema (run by `npm run build`
 * as `node dist/scripts/gen-schema.js`). `--check` exits 1 when the committed file is stale.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { WardenError } from "../src/errors.js";
import { MANIFEST_SCHEMA_PATH, manifestJsonSchemaText } from "../src/manifest/json-schema-export.js";

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) || !/"name"\s*:\s*"mcp-warden"/.test(readFileSync(join(dir, "package.json"), "utf8"))) {
    const up = dirname(dir);
    if (up === dir) throw new WardenError("E_USAGE", "mcp-warden package root not found");
    dir = up;
  }
  return dir;
}

const target = join(packageRoot(), MANIFEST_SCHEMA_PATH);
const text = manifestJsonSchemaText();
if (process.argv.includes("--check")) {
  const current = existsSync(target) ? readFileSync(target, "utf8") : "";
  if (current !== text) {
    process.stderr.write(`${MANIFEST_SCHEMA_PATH} is stale; run npm run build\n`);
    process.exit(1);
  }
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  process.stderr.write(`wrote ${MANIFEST_SCHEMA_PATH}\n`);
}
