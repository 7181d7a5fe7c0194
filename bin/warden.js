#!/usr/bin/env node
// Launcher: mcp-warden needs Node 24+ with --no-node-snapshot (isolated-vm).
// The repo brings its own Node 24 (the pinned `node` devDependency / dependency),
// so a machine whose system Node is older still works: re-exec with that one.
// Every way in either runs warden or exits 2 with a message saying why (#18.12).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, "dist", "src", "cli", "main.js");
const major = Number(process.versions.node.split(".")[0]);
const hasFlag = process.execArgv.includes("--no-node-snapshot");

if (!existsSync(main)) {
  process.stderr.write(`warden: ${main} is missing; run \`npm run build\` in ${root} first\n`);
  process.exit(2);
}

if (major >= 24 && hasFlag) {
  // main.js runs itself only when it is the entry script; here the entry is this launcher, so run it explicitly.
  const { runCli } = await import(pathToFileURL(main).href);
  try {
    process.exitCode = await runCli(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  } catch (err) {
    process.stderr.write(`warden: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
} else {
  const candidates = [join(root, "node_modules", ".bin", "node"), join(root, "..", ".bin", "node")];
  const node = major >= 24 ? process.execPath : candidates.find((c) => existsSync(c));
  if (!node) {
    process.stderr.write("warden: Node 24 or newer is required; run `npm ci` in the mcp-warden folder (it brings Node 24)\n");
    process.exit(2);
  }
  const child = spawn(node, ["--no-node-snapshot", main, ...process.argv.slice(2)], { stdio: "inherit" });
  child.on("error", (err) => {
    process.stderr.write(`warden: cannot start ${node}: ${err.message}\n`);
    process.exit(2);
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
