/**
 * images/stage.sh (SPEC §15): the host-side staging `warden images build`
 * runs before building a hosted server's image. Real npm against a loopback
 * registry (no internet needed), real pip against a closed port.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { scaffoldMcpServerFiles } from "../../src/manifest/scaffold.js";
import { pinNpm } from "../../src/cli/init-packages.js";
import { repoRoot } from "../helpers/paths.js";
import { startNpmRegistry, type NpmRegistry } from "./npm-registry.js";

const STAGE = join(repoRoot(), "images", "stage.sh");

function stage(tool: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; context: string }> {
  const context = mkdtempSync(join(tmpdir(), "warden-stage-ctx-"));
  return new Promise((resolve) => {
    execFile("bash", [STAGE, tool, context], { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}`, context }),
    );
  });
}

function toolFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "warden-stage-tool-"));
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

describe("images/stage.sh", () => {
  let registry: NpmRegistry;
  let npmTool: string;
  const saved: Record<string, string | undefined> = {};
  before(async () => {
    registry = await startNpmRegistry([
      { name: "@warden-fixture/dep", version: "2.0.0", files: { "index.js": "module.exports = 2;\n" } },
      { name: "@warden-fixture/echo-server", version: "1.1.0", bin: { "echo-server": "dist/main.js" }, dependencies: { "@warden-fixture/dep": "^2.0.0" }, files: { "dist/main.js": "// v1.1.0\n" } },
    ]);
    for (const [k, v] of Object.entries(registry.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    // The tool folder exactly as `warden init --npm` writes it (pinned against the loopback registry).
    npmTool = toolFolder(scaffoldMcpServerFiles("echo_srv", await pinNpm("@warden-fixture/echo-server", "echo_srv"), "x"));
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    await registry.close();
  });

  test("npm: the context holds the tool folder and stage/node_modules with every locked package, install scripts off", async () => {
    const { code, out, context } = await stage(npmTool);
    assert.equal(code, 0, out);
    for (const file of ["Dockerfile", "manifest.json", "package.json", "package-lock.json"]) assert.ok(existsSync(join(context, file)), file);
    assert.equal(readFileSync(join(context, "stage", "node_modules", "@warden-fixture", "echo-server", "dist", "main.js"), "utf8"), "// v1.1.0\n");
    assert.ok(existsSync(join(context, "stage", "node_modules", "@warden-fixture", "dep", "index.js")));
    assert.match(out, /npm ci --omit=dev --ignore-scripts/);
  });

  test("npm: a package swapped on the registry after init (packument and tarball) fails the staging: the lock's integrity hash", async () => {
    registry.tamper("@warden-fixture/dep", "2.0.0");
    // A fresh cache: the good bytes of the first test must not mask the swap.
    const { code, out, context } = await stage(npmTool, { npm_config_cache: mkdtempSync(join(tmpdir(), "warden-npm-cache-")) });
    assert.notEqual(code, 0);
    assert.match(out, /EINTEGRITY|integrity/i);
    assert.match(out, /stage: npm ci failed/);
    assert.ok(!existsSync(join(context, "stage", "node_modules", "@warden-fixture", "dep", "index.js")));
  });

  test("npm: a folder without package-lock.json is refused (nothing would pin the dependencies)", async () => {
    const files = scaffoldMcpServerFiles("echo_srv", { registry: "npm", name: "@warden-fixture/echo-server", version: "1.1.0", bin: "dist/main.js" }, "x");
    const { code, out } = await stage(toolFolder(files));
    assert.equal(code, 2);
    assert.match(out, /package-lock\.json is missing/);
  });

  test("a stage/ folder left in the tool folder is refused (it would be copied over the fresh staging)", async () => {
    const dir = toolFolder(scaffoldMcpServerFiles("echo_srv", { registry: "pypi", name: "mcp-x", version: "1.0.0" }, "x"));
    mkdirSync(join(dir, "stage"));
    const { code, out } = await stage(dir);
    assert.equal(code, 2);
    assert.match(out, /stage exists/);
  });

  test("a symlink in the tool folder is refused (it could pull a host file into the image)", async () => {
    const dir = toolFolder({ Dockerfile: "FROM warden/base:1\nCOPY key /app/key\n" });
    symlinkSync("/etc/hostname", join(dir, "key"));
    const { code, out, context } = await stage(dir);
    assert.equal(code, 2);
    assert.match(out, /key is a symlink/);
    assert.ok(!existsSync(join(context, "key")));
  });

  test("a stage symlink is refused like a stage folder", async () => {
    const dir = toolFolder({ Dockerfile: "FROM warden/base:1\n" });
    symlinkSync("/nonexistent", join(dir, "stage"));
    const { code, out } = await stage(dir);
    assert.equal(code, 2);
    assert.match(out, /stage exists/);
  });

  test("an unknown warden-stage kind is refused", async () => {
    const { code, out } = await stage(toolFolder({ Dockerfile: "# warden-stage: curl\nFROM warden/base:1\n" }));
    assert.equal(code, 2);
    assert.match(out, /unknown `# warden-stage: curl`/);
  });

  test("no warden-stage line: the context is the tool folder as is", async () => {
    const { code, out, context } = await stage(toolFolder({ Dockerfile: "FROM warden/base:1\n", "server.py": "print(1)\n" }));
    assert.equal(code, 0, out);
    assert.equal(readFileSync(join(context, "server.py"), "utf8"), "print(1)\n");
  });

  test("pypi: pip installs wheels for the image's Python into stage/python; an unreachable index fails with pip's error", async () => {
    const dir = toolFolder(scaffoldMcpServerFiles("fetch_srv", { registry: "pypi", name: "mcp-server-fetch", version: "2025.4.7" }, "x"));
    const { code, out } = await stage(dir, { PIP_INDEX_URL: "http://127.0.0.1:9/simple", PIP_RETRIES: "0", PIP_TIMEOUT: "5" });
    assert.equal(code, 1);
    assert.match(out, /pip install --target stage\/python \(Python 3\.11/);
    assert.match(out, /No matching distribution found for mcp-server-fetch==2025\.4\.7/);
    assert.match(out, /stage: pip install failed/);
  });
});
