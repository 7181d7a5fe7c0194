#!/usr/bin/env node
// Launcher: mcp-warden needs Node 24+ with --no-node-snapshot (isolated-vm).
// The repo brings its own Node 24 (the pinned `node` devDependency / dependency),
// so a machine whose system Node is older still works: re-exec with that one.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, "dist", "src", "cli", "main.js");
const major = Number(process.versions.node.split(".")[0]);
const hasFlag = process.execArgv.includes("--no-node-snapshot");

if (major >= 24 && hasFlag) {
  await import(main);
} else {
  const candidates = [join(root, "node_modules", ".bin", "node"), join(root, "..", ".bin", "node")];
  const node = major >= 24 ? process.execPath : candidates.find((c) => existsSync(c));
  if (!node) {
    process.stderr.write("warden: Node 24 or newer is required; run `npm ci` in the mcp-warden folder (it brings Node 24)\n");
    process.exit(2);
  }
  const child = spawn(node, ["--no-node-snapshot", main, ...process.argv.slice(2)], { stdio: "inherit" });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
