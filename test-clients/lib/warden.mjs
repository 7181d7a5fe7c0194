// Starting and stopping the real mcp-warden CLI (the built `main.js`), exactly as an operator
// would: `node --no-node-snapshot <main> serve [--http] --config <cfg>`.
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const CLIENTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = resolve(CLIENTS_DIR, "..");

/**
 * Where the server comes from. WARDEN_MAIN: the built CLI entry (default dist/src/cli/main.js,
 * relative to the repo root). WARDEN_NODE: the Node that runs it (default the repo's pinned
 * Node 24 in node_modules/.bin, since isolated-vm needs it; else this process's Node).
 */
export function wardenCommand() {
  const main = resolve(REPO_ROOT, process.env.WARDEN_MAIN ?? "dist/src/cli/main.js");
  const pinned = join(REPO_ROOT, "node_modules", ".bin", "node");
  const node = process.env.WARDEN_NODE ?? (existsSync(pinned) ? pinned : process.execPath);
  return { node, args: ["--no-node-snapshot", main], main };
}

/** Runs one CLI command to completion (approve, validate…). Rejects with its output on a non-zero exit. */
export function runWarden(cliArgs, { timeoutMs = 60_000 } = {}) {
  const { node, args } = wardenCommand();
  return new Promise((resolvePromise, reject) => {
    execFile(node, [...args, ...cliArgs], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`warden ${cliArgs.join(" ")} failed (${err.code ?? err.signal}): ${stderr || stdout}`));
      else resolvePromise({ stdout, stderr });
    });
  });
}

// The listener line ("… listening on http://127.0.0.1:PORT/mcp …"); only the URL is relied on.
const LISTENING = /(http:\/\/127\.0\.0\.1:(\d+)\/mcp)/;

/**
 * `warden serve --http`: resolves once the server logs its URL (SPEC §8 / issue 8: one clear
 * line per listener). The stderr tail is kept for the report when something goes wrong.
 * @returns {Promise<{ url: string, port: number, stderrTail(): string, stop(): Promise<void> }>}
 */
export function startWardenHttp(configPath, { timeoutMs = 60_000 } = {}) {
  const { node, args } = wardenCommand();
  const child = spawn(node, [...args, "serve", "--http", "--config", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let tail = "";
  let listening = false;
  // If this harness dies (Ctrl-C, EPIPE on a closed stdout, a crash), take the server with it.
  const orphanGuard = () => child.kill("SIGKILL");
  process.once("exit", orphanGuard);
  const exited = new Promise((r) =>
    child.once("exit", (code, signal) => {
      process.off("exit", orphanGuard);
      r({ code, signal });
    }),
  );
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`warden serve --http did not report its URL within ${timeoutMs} ms; stderr:\n${tail}`));
    }, timeoutMs);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      tail = (tail + chunk).slice(-8000);
      const m = LISTENING.exec(tail);
      if (m && !listening) {
        listening = true;
        clearTimeout(timer);
        resolvePromise({
          url: m[1],
          port: Number(m[2]),
          stderrTail: () => tail,
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill("SIGTERM");
            const forced = setTimeout(() => child.kill("SIGKILL"), 5_000);
            await exited;
            clearTimeout(forced);
          },
        });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`warden serve --http exited (${code ?? signal}) before listening; stderr:\n${tail}`));
    });
  });
}
