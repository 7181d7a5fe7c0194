// Prints the compiled modules `entry` imports (transitively, relative imports only) and the packages they
// import, so the egress image holds exactly the code the proxy runs. Usage: node closure.mjs <dist root> <entry>
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const [root, entry] = process.argv.slice(2);
const files = new Set();
const packages = new Set();
const walk = (file) => {
  if (files.has(file)) return;
  if (!existsSync(file)) throw new Error(`${relative(root, file)} is imported but missing from ${root}`);
  files.add(file);
  const source = readFileSync(file, "utf8");
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"|^\s*import\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/gms)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith(".")) walk(resolve(dirname(file), spec));
    else if (!spec.startsWith("node:")) packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);
  }
};
walk(resolve(root, entry));
for (const f of [...files].sort()) console.log(`file ${relative(root, f)}`);
for (const p of [...packages].sort()) console.log(`package ${p}`);
