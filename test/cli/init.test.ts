import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { initCommand } from "../../src/cli/init.js";
import { validateCommand } from "../../src/cli/validate.js";
import type { CliIo } from "../../src/cli/types.js";
import { loadTool } from "../../src/manifest/index.js";
import { tempDir } from "../manifest/fixture.js";

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
