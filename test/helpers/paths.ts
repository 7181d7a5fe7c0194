import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from the compiled test file wherever tsc put it. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "mcp-warden") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("repository root not found");
    dir = up;
  }
}

/** Absolute path of the compiled output root (dist/ or a helper's .tmp/x/), i.e. where src/ compiled to. */
export function buildRoot(): string {
  // this file is <buildRoot>/test/helpers/paths.js
  return dirname(dirname(dirname(fileURLToPath(import.meta.url))));
}
