/**
 * `warden images build` for tool folders (SPEC §15): which folders it builds,
 * which tags they may claim, and — with a Docker engine — the `files` example
 * (the community filesystem server, unmodified) built by the same code path,
 * started in a hardened `docker run` and answering initialize + tools/list
 * over raw stdio. Without an engine the Docker test skips loudly, except
 * under CI=true, where it fails.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import Dockerode from "dockerode";
import { buildImages, pingEngine } from "../../sandboxes/docker/index.js";
import { imagesCommand } from "../../src/cli/images.js";
import type { CliIo } from "../../src/cli/types.js";
import { findToolDirs } from "../../src/broker/index.js";
import { loadConfigFile } from "../../src/config/load.js";
import { repoRoot } from "../helpers/paths.js";

const docker = new Dockerode();
const EXAMPLE_CONFIG = join(repoRoot(), "examples", "warden.config.json");

/** A copy of examples/tools/files whose Dockerfile or manifest a test may change. */
function filesCopy(edit: { dockerfile?: (s: string) => string; image?: string } = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), "warden-tool-images-")), "files");
  cpSync(join(repoRoot(), "examples", "tools", "files"), dir, { recursive: true });
  if (edit.dockerfile) writeFileSync(join(dir, "Dockerfile"), edit.dockerfile(readFileSync(join(dir, "Dockerfile"), "utf8")));
  if (edit.image) {
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...m, image: edit.image }));
  }
  return dir;
}

const quiet = (): void => {};
/** For the refusal tests: an engine that is never reached, so a missing check fails the test instead of overwriting a real image. */
const noEngine = new Dockerode({ socketPath: "/nonexistent/docker.sock" });

describe("warden images build: tool folders", () => {
  test("the example config's tool folders with a # warden-image: line are files, everything and py_notes_server", async () => {
    const dirs = await findToolDirs((await loadConfigFile(EXAMPLE_CONFIG)).config.tools);
    const tagged = dirs.filter((d) => {
      try {
        return /^#\s*warden-image:/m.test(readFileSync(join(d, "Dockerfile"), "utf8"));
      } catch {
        return false;
      }
    });
    assert.deepEqual(tagged.map((d) => d.split("/").at(-1)).sort(), ["everything", "files", "py_notes_server"]);
  });

  // Each of these would let a tool folder in the tools globs overwrite an image it does not own at the next build.
  test("a tool folder cannot build one of warden's own images (warden/base:1)", async () => {
    const dir = filesCopy({ dockerfile: (s) => s.replace(/^# warden-image: .*$/m, "# warden-image: warden/base:1"), image: "warden/base:1" });
    await assert.rejects(buildImages({ root: repoRoot(), onProgress: quiet, toolDirs: [dir], docker: noEngine }), /names one of warden's own images/);
  });

  test("a tool folder cannot build an image other than its manifest's", async () => {
    const dir = filesCopy({ dockerfile: (s) => s.replace(/^# warden-image: .*$/m, "# warden-image: warden-tools/py_word_freq:1") });
    await assert.rejects(buildImages({ root: repoRoot(), onProgress: quiet, toolDirs: [dir], docker: noEngine }), /is not the manifest's image \("warden-tools\/files:1"\)/);
  });

  test("two tool folders (or a folder and images/tools) cannot build the same tag", async () => {
    const a = filesCopy();
    const b = filesCopy();
    await assert.rejects(buildImages({ root: repoRoot(), onProgress: quiet, toolDirs: [a, b], docker: noEngine }), /both build warden-tools\/files:1/);
    const c = filesCopy({ dockerfile: (s) => s.replace(/^# warden-image: .*$/m, "# warden-image: warden-tools/py_word_freq:1"), image: "warden-tools/py_word_freq:1" });
    await assert.rejects(buildImages({ root: repoRoot(), onProgress: quiet, toolDirs: [c], docker: noEngine }), /both build warden-tools\/py_word_freq:1/);
  });

  test("an unknown name is refused before anything is built, naming both kinds of folder", async () => {
    await assert.rejects(
      buildImages({ root: repoRoot(), onProgress: quiet, toolDirs: [filesCopy()], only: ["no_such_tool"], docker: noEngine }),
      /no image folder images\/tools\/no_such_tool and no tool folder of that name.*known: .*files/s,
    );
  });

  test("`warden images build --config` with a config that does not load is a config error, not a silent skip", async () => {
    const io: CliIo & { err: string } = { err: "", stdout: () => {}, stderr: (t) => void (io.err += t) };
    const missing = join(tmpdir(), `warden-no-config-${process.pid}.json`);
    const code = await imagesCommand({ positionals: ["build", "files"], flags: { config: missing }, configPath: missing }, io);
    assert.equal(code, 2);
    assert.match(io.err, /cannot read the config file/);
  });
});

async function requireEngine(t: TestContext): Promise<boolean> {
  const ping = await pingEngine(docker);
  if (ping === true) return true;
  if (process.env.CI === "true") throw new Error(`Docker is required in CI: ${ping}`);
  console.error(`\n*** SKIPPING Docker test "${t.name}": ${ping} ***\n`);
  t.skip(`Docker unavailable: ${ping}`);
  return false;
}

/** initialize, initialized, tools/list as JSON lines into a hardened `docker run -i`; the JSON lines that come back. */
function probe(image: string, command: string[], workspace: string): Promise<{ messages: Array<Record<string, any>>; stderr: string }> {
  const args = [
    "run", "-i", "--rm", "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=16m", "--user", "65534:65534",
    "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none", "--memory", "256m", "--pids-limit", "64",
    "--label", "warden.test=tool-images", "-v", `${workspace}:/mnt/workspace`, image, ...command,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let stderr = "";
    const messages: Array<Record<string, any>> = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no tools/list answer within 60 s; stderr: ${stderr}; stdout: ${out}`));
    }, 60_000);
    child.stderr.on("data", (d) => (stderr += String(d)));
    child.stdout.on("data", (d) => {
      out += String(d);
      let nl;
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!line.trim()) continue;
        const message = JSON.parse(line);
        messages.push(message);
        if (message.id === 1) {
          child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
          child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" })}\n`);
        }
        if (message.id === 2) child.stdin.end(); // EOF on stdin: the stdio server exits, --rm removes the container
      }
    });
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      resolve({ messages, stderr });
    });
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "tool-images-test", version: "1" } } })}\n`);
  });
}

describe("the files example image (community filesystem server) in a hardened container", () => {
  test("built by `warden images build`'s code path, it answers initialize and tools/list over stdio as uid 65534 on a read-only root", { timeout: 600_000 }, async (t) => {
    if (!(await requireEngine(t))) return;
    const toolDirs = await findToolDirs((await loadConfigFile(EXAMPLE_CONFIG)).config.tools);
    const lines: string[] = [];
    const { built } = await buildImages({ root: repoRoot(), onProgress: (l) => lines.push(l), toolDirs, only: ["files"], docker });
    assert.deepEqual(built.filter((b) => b.startsWith("warden-tools/")), ["warden-tools/files:1"]);
    assert.ok(lines.some((l) => /stage: npm ci --omit=dev --ignore-scripts/.test(l)), lines.join("\n"));

    const manifest = JSON.parse(readFileSync(join(repoRoot(), "examples", "tools", "files", "manifest.json"), "utf8"));
    const workspace = mkdtempSync(join(tmpdir(), "warden-files-ws-"));
    chmodSync(workspace, 0o777);
    try {
      const { messages, stderr } = await probe(manifest.image, manifest.command, workspace);
      const init = messages.find((m) => m.id === 1);
      assert.equal(init?.result?.serverInfo?.name, "secure-filesystem-server", stderr);
      const tools: string[] = messages.find((m) => m.id === 2)?.result?.tools?.map((x: { name: string }) => x.name) ?? [];
      for (const name of ["read_text_file", "write_file", "edit_file", "list_directory", "directory_tree", "move_file", "search_files", "list_allowed_directories"])
        assert.ok(tools.includes(name), `${name} in ${tools.join(", ")}`);
      // Every tool the manifest lowers to "read" is one the pinned server really has: a typo would leave it "write".
      for (const name of Object.keys(manifest.effects)) assert.ok(tools.includes(name), `effects.${name} is not a tool of the server`);
      assert.match(stderr, /\/mnt\/workspace/);
    } finally {
      rmSync(workspace, { recursive: true, force: true });
    }
  });
});
