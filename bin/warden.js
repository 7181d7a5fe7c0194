#!/bin/sh
//bin/true; s=$(readlink -f "$0" 2>/dev/null || echo "$0"); r=$(dirname "$(dirname "$s")"); for n in "$r/node_modules/.bin/node" "$r/../.bin/node"; do [ -x "$n" ] && exec "$n" --max-semi-space-size=8 --heap-growing-percent=50 "$s" "$@"; done; exec node --max-semi-space-size=8 --heap-growing-percent=50 "$s" "$@"
// ^ Run as an executable, this file is a shell script for one line: it REPLACES itself (exec) with the Node 24
// the repo brings (else the `node` on PATH), so no launcher process stays alive as a parent (#14: it cost
// ≈40–50 MB per server and sat between the client and warden for signals and exit codes). For Node the line
// is a comment. (`//bin/true` is the path of `true` for sh, a comment for JavaScript.)
//
// V8 flags for the broker (#14), measured on word_stats at c=16: V8 grows the young generation of a busy process
// up to 2 × 64 MB and never gives it back (new_space was 128 MB of a 229 MB broker after 60k calls):
// --max-semi-space-size=8 bounds it to 16 MB. Objects of 16 calls in flight then reach the old space, which V8
// let grow to ~4× its live 25 MB before collecting it; --heap-growing-percent=50 collects at 1.5× (broker RSS
// after 12 s of load 160-180 → ~130 MB, CPU per call unchanged within noise; --optimize-for-size reached
// 108 MB but cost +40% CPU per call).
//
// Launcher: mcp-warden needs Node 24+. The broker never loads isolated-vm itself (its isolate workers are
// forked with --no-node-snapshot), so any Node 24 runs it in this process, with or without the flag.
// Started by an older Node: replace this process with the repo's Node 24 (process.execve, Node ≥ 22.15/23.11);
// only a Node without execve still re-runs it as a child and relays signals and the exit code.
// Every way in either runs warden or exits 2 with a message saying why (#18.12).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const main = join(root, "dist", "src", "cli", "main.js");
const major = Number(process.versions.node.split(".")[0]);

if (!existsSync(main)) {
  process.stderr.write(`warden: ${main} is missing; run \`npm run build\` in ${root} first\n`);
  process.exit(2);
}

if (major >= 24) {
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
  const node = candidates.find((c) => existsSync(c));
  if (!node) {
    process.stderr.write("warden: Node 24 or newer is required; run `npm ci` in the mcp-warden folder (it brings Node 24)\n");
    process.exit(2);
  }
  const args = ["--no-node-snapshot", "--max-semi-space-size=8", "--heap-growing-percent=50", main, ...process.argv.slice(2)];
  if (typeof process.execve === "function") {
    try {
      process.execve(node, [node, ...args], process.env); // does not return
    } catch (err) {
      process.stderr.write(`warden: cannot start ${node}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    }
  }
  const child = spawn(node, args, { stdio: "inherit" });
  child.on("error", (err) => {
    process.stderr.write(`warden: cannot start ${node}: ${err.message}\n`);
    process.exit(2);
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
