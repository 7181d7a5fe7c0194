import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { initCommand } from "../../src/cli/init.js";
import { validateCommand } from "../../src/cli/validate.js";
import type { CliIo } from "../../src/cli/types.js";
import { loadTool } from "../../src/manifest/index.js";
import { scaffoldMcpServerFiles } from "../../src/manifest/scaffold.js";
import { tempDir } from "../manifest/fixture.js";
import { startNpmRegistry, type NpmRegistry } from "../images/npm-registry.js";

function captured(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

const init = (positionals: string[], flags: Record<string, string | boolean>, io: CliIo) => initCommand({ positionals, flags, configPath: "warden.config.json" }, io);

describe("warden init <name> --runtime isolate|container", () => {
  test("an isolate scaffold validates at once and has a typed entry and an example input", async () => {
    const parent = await tempDir();
    const io = captured();
    assert.equal(await init(["my_tool"], { runtime: "isolate", dir: parent }, io), 0, io.err);
    const dir = join(parent, "my_tool");
    assert.deepEqual((await readdir(dir)).sort(), ["index.js", "manifest.json", "test-call.json"]);
    assert.match(io.out, /ok: my_tool@0\.1\.0 \(isolate\) digest sha256:/);
    const check = captured();
    assert.equal(await validateCommand({ positionals: [dir], flags: {}, configPath: "" }, check), 0, check.err);
    assert.match(await readFile(join(dir, "index.js"), "utf8"), /@param \{import\("mcp-warden\/tool"\)\.ToolContext\} ctx/);
  });

  test("the scaffold's example input is valid for its own inputSchema, and its code's output for the outputSchema", async () => {
    const parent = await tempDir();
    await init(["echo_tool"], { runtime: "isolate", dir: parent }, captured());
    const dir = join(parent, "echo_tool");
    const tool = await loadTool(dir);
    const { compileJsonSchema } = await import("../../src/manifest/index.js");
    const input = JSON.parse(await readFile(join(dir, "test-call.json"), "utf8"));
    assert.deepEqual(compileJsonSchema(tool.manifest.inputSchema!)(input), { ok: true });
    const mod = await import(`file://${join(dir, "index.js")}`);
    const ctx = { log() {}, progress() {} };
    assert.deepEqual(compileJsonSchema(tool.manifest.outputSchema!)(await mod.default(input, ctx)), { ok: true });
  });

  test("a container scaffold has a Dockerfile FROM warden/base:1 and a main.py speaking the stdin/stdout protocol", async () => {
    const parent = await tempDir();
    const io = captured();
    assert.equal(await init(["pdf_extract"], { runtime: "container", dir: parent }, io), 0, io.err);
    const dir = join(parent, "pdf_extract");
    assert.deepEqual((await readdir(dir)).sort(), ["Dockerfile", "main.py", "manifest.json", "test-call.json"]);
    assert.match(await readFile(join(dir, "Dockerfile"), "utf8"), /^FROM warden\/base:1$/m);
    // The tag line makes `warden images build` (with the config whose tools globs find this folder) build it.
    assert.match(await readFile(join(dir, "Dockerfile"), "utf8"), /^# warden-image: warden-tools\/pdf-extract:1$/m);
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
    assert.equal(manifest.image, "warden-tools/pdf-extract:1");
    assert.deepEqual(manifest.command, ["python3", "/app/main.py"]);
    const main = await readFile(join(dir, "main.py"), "utf8");
    assert.match(main, /json\.loads\(sys\.stdin\.readline\(\)\)/);
    assert.match(main, /\{"output": run\(request\["input"\]\)\}/);
    assert.match(main, /\{"error": \{"message": str\(exc\)\}\}/);
  });

  test('"$schema" is a relative path from the tool folder to the shipped schema', async () => {
    const parent = await tempDir();
    await init(["schema_ref"], { runtime: "isolate", dir: parent }, captured());
    const dir = join(parent, "schema_ref");
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
    assert.match(manifest.$schema, /^\.\.?\/.*schema\/manifest\.schema\.json$/);
    assert.ok(existsSync(resolve(dir, manifest.$schema)), `${manifest.$schema} should exist`);
  });

  test("an existing folder is never overwritten (exit 1)", async () => {
    const parent = await tempDir();
    await mkdir(join(parent, "taken"));
    await writeFile(join(parent, "taken", "manifest.json"), "mine");
    const io = captured();
    assert.equal(await init(["taken"], { runtime: "isolate", dir: parent }, io), 1);
    assert.match(io.err, /already exists; refusing to overwrite it/);
    assert.equal(await readFile(join(parent, "taken", "manifest.json"), "utf8"), "mine");
  });

  for (const name of ["MyTool", "1tool", "my-tool", "../escape", "a".repeat(65)]) {
    test(`an invalid name is a usage error (exit 2): ${name.slice(0, 12)}`, async () => {
      const parent = await tempDir();
      const io = captured();
      assert.equal(await init([name], { runtime: "isolate", dir: parent }, io), 2);
      assert.match(io.err, /not a valid tool name/);
      assert.deepEqual(await readdir(parent), []);
    });
  }

  test("a missing or unknown runtime is a usage error (exit 2)", async () => {
    const parent = await tempDir();
    const cases: Record<string, string | boolean>[] = [{ dir: parent }, { runtime: "wasm", dir: parent }, { runtime: true, dir: parent }];
    for (const flags of cases) {
      const io = captured();
      assert.equal(await init(["tool_x"], flags, io), 2);
      assert.match(io.err, /usage: warden init/);
    }
    assert.deepEqual(await readdir(parent), []);
  });

  test("a missing name is a usage error (exit 2)", async () => {
    assert.equal(await init([], { runtime: "isolate" }, captured()), 2);
  });
});

describe("warden init <name> --runtime mcp-server --npm|--pypi (SPEC §15)", () => {
  let registry: NpmRegistry;
  const saved: Record<string, string | undefined> = {};
  before(async () => {
    registry = await startNpmRegistry([
      { name: "@warden-fixture/dep", version: "2.0.0", files: { "index.js": "module.exports = 1;\n" } },
      { name: "@warden-fixture/echo-server", version: "1.0.0", bin: { "echo-server": "dist/index.js" }, dependencies: { "@warden-fixture/dep": "^2.0.0" }, files: { "dist/index.js": "// v1.0.0\n" } },
      { name: "@warden-fixture/echo-server", version: "1.1.0", bin: { "echo-server": "./dist/main.js" }, dependencies: { "@warden-fixture/dep": "^2.0.0" }, files: { "dist/main.js": "// v1.1.0\n" } },
    ]);
    // npm (run by warden init) reads its registry from the environment, as an operator's .npmrc would set it.
    // PIP_INDEX_URL: a closed loopback port, so "no version given" fails here the same way with or without internet.
    for (const [k, v] of Object.entries({ ...registry.env, PIP_INDEX_URL: "http://127.0.0.1:9/simple", PIP_RETRIES: "0", PIP_TIMEOUT: "5" })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    await registry.close();
  });

  async function scaffold(name: string, flags: Record<string, string>): Promise<{ code: number; io: ReturnType<typeof captured>; dir: string; parent: string }> {
    const parent = await tempDir();
    const io = captured();
    const code = await init([name], { runtime: "mcp-server", dir: parent, ...flags }, io);
    return { code, io, dir: join(parent, name), parent };
  }

  const readJson = async (file: string) => JSON.parse(await readFile(file, "utf8"));

  test("--npm without a version pins the latest exactly, locks every dependency, and validates at once", async () => {
    const { code, io, dir } = await scaffold("echo_srv", { npm: "@warden-fixture/echo-server" });
    assert.equal(code, 0, io.err);
    assert.deepEqual((await readdir(dir)).sort(), ["Dockerfile", "manifest.json", "package-lock.json", "package.json"]);
    assert.deepEqual((await readJson(join(dir, "package.json"))).dependencies, { "@warden-fixture/echo-server": "1.1.0" });
    const lock = await readJson(join(dir, "package-lock.json"));
    assert.equal(lock.packages["node_modules/@warden-fixture/echo-server"].version, "1.1.0");
    assert.match(lock.packages["node_modules/@warden-fixture/dep"].integrity, /^sha512-/);
    const check = captured();
    assert.equal(await validateCommand({ positionals: [dir], flags: {}, configPath: "" }, check), 0, check.err);
    assert.match(io.out, /ok: echo_srv@0\.1\.0 \(mcp-server\)/);
    assert.match(io.out, /next: `warden images build`.*`warden approve echo_srv`/);
  });

  test("the manifest starts from safe defaults: session lifecycle, <name>_ prefix, effect destructive, no capabilities", async () => {
    const { code, io, dir } = await scaffold("echo_srv", { npm: "@warden-fixture/echo-server@1.1.0" });
    assert.equal(code, 0, io.err);
    const m = await readJson(join(dir, "manifest.json"));
    assert.equal(m.runtime, "mcp-server");
    assert.equal(m.lifecycle, "session");
    assert.equal(m.toolPrefix, "echo_srv_");
    assert.equal(m.effect, "destructive");
    assert.deepEqual(m.effects, {});
    assert.equal(m.capabilities, undefined);
    assert.equal(m.image, "warden-tools/echo-srv:1");
    // bin "./dist/main.js" of the pinned version, not the older one's dist/index.js
    assert.deepEqual(m.command, ["node", "/app/node_modules/@warden-fixture/echo-server/dist/main.js"]);
    assert.ok(m.limits.memoryMb <= 256 && m.limits.pids <= 64);
  });

  test("the npm Dockerfile names the manifest's image, stages with npm, builds FROM warden/node:1 and runs as 65534", async () => {
    const { dir } = await scaffold("echo_srv", { npm: "@warden-fixture/echo-server" });
    const dockerfile = await readFile(join(dir, "Dockerfile"), "utf8");
    assert.match(dockerfile, /^# warden-image: warden-tools\/echo-srv:1$/m);
    assert.match(dockerfile, /^# warden-stage: npm$/m);
    assert.match(dockerfile, /^FROM warden\/node:1$/m);
    assert.match(dockerfile, /^COPY stage\/node_modules \/app\/node_modules$/m);
    assert.match(dockerfile, /^USER 65534:65534$/m);
    assert.match(dockerfile, /@warden-fixture\/echo-server 1\.1\.0/);
    assert.doesNotMatch(dockerfile, /^RUN /m, "nothing runs (or downloads) inside the build");
  });

  test("--npm with a range pins the newest match; with an exact version that version", async () => {
    const ranged = await scaffold("echo_srv", { npm: "@warden-fixture/echo-server@^1.0.0" });
    assert.equal(ranged.code, 0, ranged.io.err);
    assert.deepEqual((await readJson(join(ranged.dir, "package.json"))).dependencies, { "@warden-fixture/echo-server": "1.1.0" });
    const exact = await scaffold("echo_srv", { npm: "@warden-fixture/echo-server@1.0.0" });
    assert.equal(exact.code, 0, exact.io.err);
    assert.deepEqual((await readJson(join(exact.dir, "package.json"))).dependencies, { "@warden-fixture/echo-server": "1.0.0" });
    assert.deepEqual((await readJson(join(exact.dir, "manifest.json"))).command, ["node", "/app/node_modules/@warden-fixture/echo-server/dist/index.js"]);
  });

  test("a package the registry does not know fails (exit 1) and leaves no folder behind", async () => {
    const { code, io, parent } = await scaffold("ghost", { npm: "@warden-fixture/no-such-server" });
    assert.equal(code, 1);
    assert.match(io.err, /cannot pin @warden-fixture\/no-such-server from npm/);
    assert.deepEqual(await readdir(parent), []);
  });

  test("--pypi with ==version needs no network: requirements.txt pins it, the Dockerfile stages with pip, manifest as for npm", async () => {
    const { code, io, dir } = await scaffold("fetch_srv", { pypi: "mcp-server-fetch==2025.4.7" });
    assert.equal(code, 0, io.err);
    assert.deepEqual((await readdir(dir)).sort(), ["Dockerfile", "manifest.json", "requirements.txt"]);
    assert.equal(await readFile(join(dir, "requirements.txt"), "utf8"), "mcp-server-fetch==2025.4.7\n");
    assert.equal(
      await readFile(join(dir, "Dockerfile"), "utf8"),
      [
        "# warden-image: warden-tools/fetch-srv:1",
        "# warden-stage: pypi",
        "# mcp-server-fetch 2025.4.7, hosted unmodified (SPEC §15). Built locally by `warden images build`, which first",
        "# stages the package on the host into stage/ (images/stage.sh); nothing is fetched inside the build or at call time.",
        "FROM warden/base:1",
        "# requirements.txt pins mcp-server-fetch==2025.4.7; its wheels were installed on the host with pip --target.",
        "# Root-owned: the server (uid 65534) cannot modify its own code.",
        "COPY stage/python /app/python",
        "ENV PYTHONPATH=/app/python",
        "USER 65534:65534",
        'CMD ["python3","-m","mcp_server_fetch"]',
        "",
      ].join("\n"),
    );
    const m = await readJson(join(dir, "manifest.json"));
    assert.deepEqual(m.command, ["python3", "-m", "mcp_server_fetch"]);
    assert.equal(m.effect, "destructive");
    assert.equal(m.toolPrefix, "fetch_srv_");
    assert.equal(m.capabilities, undefined);
    const check = captured();
    assert.equal(await validateCommand({ positionals: [dir], flags: {}, configPath: "" }, check), 0, check.err);
  });

  test("--pypi without a version asks pip's index; an unreachable index fails (exit 1) and leaves nothing", async () => {
    const { code, io, parent } = await scaffold("fetch_srv", { pypi: "mcp-server-fetch" });
    assert.equal(code, 1);
    assert.match(io.err, /cannot pin mcp-server-fetch from pypi: .*pip index versions/s);
    assert.deepEqual(await readdir(parent), []);
  });

  // Each spec would otherwise reach a Dockerfile, package.json or requirements.txt: a newline is a new build step.
  const badSpecs: Array<[string, Record<string, string>]> = [
    ["npm newline", { npm: "@warden-fixture/echo-server@1.0.0\nRUN id" }],
    ["npm path", { npm: "../../etc/passwd" }],
    ["npm upper case", { npm: "Echo-Server" }],
    ["pypi range", { pypi: "mcp-server-fetch>=1.0" }],
    ["pypi newline", { pypi: "mcp-server-fetch==1.0\nRUN id" }],
    ["pypi double pin", { pypi: "a==1==2" }],
    ["pypi option", { pypi: "--index-url=http://evil/" }],
  ];
  for (const [label, flags] of badSpecs) {
    test(`a package spec that is not a plain name and version is a usage error (exit 2): ${label}`, async () => {
      const { code, io, parent } = await scaffold("bad_spec", flags);
      assert.equal(code, 2, io.out);
      // Refused by the spec parser, before any registry lookup.
      assert.match(io.err, /e\.g\.|fix: use <package>==|range or tag/);
      assert.deepEqual(await readdir(parent), []);
    });
  }

  test("the template itself refuses a package name, version or bin that could break out of its line", () => {
    const ok = { registry: "npm" as const, name: "@a/b", version: "1.0.0", bin: "dist/index.js" };
    assert.ok(scaffoldMcpServerFiles("srv", ok, "x").Dockerfile);
    for (const bad of [
      { ...ok, version: "1.0.0\nRUN id" },
      { ...ok, name: "@a/b\nRUN id" },
      { ...ok, bin: "../../../usr/bin/env" },
      { ...ok, bin: 'dist/x.js","--inspect=0.0.0.0' },
      { registry: "pypi" as const, name: "mcp-x", version: "1.0 ; rm -rf /" },
    ])
      assert.throws(() => scaffoldMcpServerFiles("srv", bad, "x"), /is not/, JSON.stringify(bad));
  });

  test("mcp-server needs exactly one of --npm / --pypi, and they belong to mcp-server only (exit 2)", async () => {
    const parent = await tempDir();
    const cases: Record<string, string>[] = [
      { runtime: "mcp-server" },
      { runtime: "mcp-server", npm: "a", pypi: "b==1" },
      { runtime: "isolate", npm: "@warden-fixture/echo-server" },
      { runtime: "container", pypi: "x==1" },
    ];
    for (const flags of cases) {
      const io = captured();
      assert.equal(await init(["tool_x"], { dir: parent, ...flags }, io), 2, JSON.stringify(flags));
      assert.match(io.err, /--runtime mcp-server --npm <package>\[@version\] \| --pypi/);
    }
    assert.equal(await init(["tool_x"], { runtime: "mcp-server", npm: true as unknown as string, dir: parent }, captured()), 2);
    assert.deepEqual(await readdir(parent), []);
  });
});
