import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildImages } from "../../sandboxes/docker/index.js";
import { findToolDirs } from "../broker/index.js";
import { loadConfigFile } from "../config/load.js";
import { reportCliError } from "./errors.js";
import { WardenError } from "../errors.js";
import { EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/**
 * `warden images build [name…] [--config F]`: base image from Debian
 * packages, the Node image when needed, every images/tools image, and the
 * image of every tool folder of the config (`--config`, else
 * ./warden.config.json when present) whose Dockerfile has a
 * `# warden-image:` line, its npm/PyPI packages staged on this host first.
 * Never pulls.
 */
export const imagesCommand: CliCommand = async ({ positionals, flags, configPath }, io) => {
  const [sub, ...only] = positionals;
  if (sub !== "build") {
    io.stderr("usage: warden images build [base|node|egress|server|<tool image>|<tool name>…] [--config F]\n");
    return EXIT_USAGE;
  }
  // dist/src/cli/images.js → the package root holds images/
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  try {
    // An explicit --config must load; the default file is used when it exists (the repo's own images need none).
    const toolDirs = typeof flags.config === "string" || existsSync(configPath) ? await findToolDirs((await loadConfigFile(configPath)).config.tools) : [];
    const started = Date.now();
    const wantServer = only.length === 0 || only.includes("server");
    const rest = only.filter((n) => n !== "server");
    const { built } = only.length > 0 && rest.length === 0 ? { built: [] as string[] } : await buildImages({ root, toolDirs, onProgress: (line) => io.stderr(`[images] ${line}\n`), ...(rest.length ? { only: rest } : {}) });
    if (wantServer) {
      await runScript(join(root, "images", "warden", "build.sh"), (line) => io.stderr(`[images] ${line}\n`));
      built.push("warden/server:1");
    }
    io.stdout(`built ${built.length} image(s) in ${Math.round((Date.now() - started) / 1000)} s: ${built.join(", ") || "nothing to do"}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportCliError(err, io);
  }
};

/** The server image has its own build script (it packs this repository's dist and Node); progress lines are forwarded. */
function runScript(script: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script], { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const forward = (d: Buffer) => {
      tail = (tail + String(d)).slice(-4000);
      for (const line of String(d).split("\n")) if (line.trim()) onLine(line);
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new WardenError("E_SANDBOX_UNAVAILABLE", `building the server image failed (${script} exited ${code}); last output:\n${tail}`))));
  });
}
