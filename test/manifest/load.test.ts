import assert from "node:assert/strict";
import { realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LIMIT_DEFAULTS, loadTool, validateToolDir } from "../../src/manifest/index.js";
import { ENTRY_SOURCE, isolateTool, tempDir, toolDir, validManifest } from "./fixture.js";

async function loadError(dir: string): Promise<Error & { code?: string }> {
  try {
    await loadTool(dir);
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail("loadTool should have refused the folder");
}

describe("loadTool", () => {
  test("loads a valid isolate tool: realpath dir, entry source, module sources, limits with defaults", async () => {
    const manifest = validManifest();
    manifest.limits = { timeoutMs: 5000 };
    const dir = await toolDir({ "manifest.json": manifest, "index.js": ENTRY_SOURCE, "lib/util.js": "export const a = 1;\n", "data.bin": Buffer.from([0, 1, 2]) });
    const tool = await loadTool(join(dir, ".", "lib", ".."));
    assert.equal(tool.dir, await realpath(dir));
    assert.equal(tool.entrySource, ENTRY_SOURCE);
    assert.deepEqual(Object.keys(tool.sources ?? {}).sort(), ["index.js", "lib/util.js", "manifest.json"]);
    assert.deepEqual(tool.limits, { ...LIMIT_DEFAULTS, timeoutMs: 5000 });
    assert.match(tool.digest, /^sha256:[0-9a-f]{64}$/);
  });

  test("an entry written as ./index.js is found", async () => {
    const tool = await loadTool(await isolateTool((m) => (m.entry = "./index.js")));
    assert.equal(tool.entrySource, ENTRY_SOURCE);
  });

  test("the error is E_MANIFEST and lists every problem as <file>: <json path>: <problem>; fix: <how>", async () => {
    const err = await loadError(await isolateTool((m) => {
      m.name = "Bad Name";
      m.capabilities.netwrok = {};
      m.capabilities.network.allow.push("10.0.0.0/8");
    }));
    assert.equal(err.code, "E_MANIFEST");
    const lines = err.message.split("\n").slice(1);
    assert.deepEqual(lines.map((l) => l.split(": ").slice(0, 2).join(": ")).sort(), [
      "manifest.json: capabilities.network.allow[4]",
      "manifest.json: capabilities.netwrok",
      "manifest.json: name",
    ]);
    for (const line of lines) assert.match(line, /^manifest\.json: \S+: .+; fix: .+/);
    assert.match(err.message, /has 3 problem\(s\)/);
  });

  test("a folder without manifest.json is refused with the fix", async () => {
    const err = await loadError(await toolDir({ "index.js": ENTRY_SOURCE }));
    assert.equal(err.code, "E_MANIFEST");
    assert.match(err.message, /manifest\.json is missing; fix: create it/);
  });

  test("a manifest that is not JSON is refused with the parser's message", async () => {
    const err = await loadError(await toolDir({ "manifest.json": '{"name": "x",}', "index.js": ENTRY_SOURCE }));
    assert.equal(err.code, "E_MANIFEST");
    assert.match(err.message, /manifest\.json: \(root\): is not valid JSON \(.+\); fix: correct the JSON syntax/);
  });

  test("a manifest that is JSON but not an object is refused", async () => {
    const err = await loadError(await toolDir({ "manifest.json": "[1,2]", "index.js": ENTRY_SOURCE }));
    assert.match(err.message, /manifest\.json: \(root\): expected an object, got array/);
  });

  test("an oversized manifest is refused before parsing", async () => {
    const dir = await toolDir({ "index.js": ENTRY_SOURCE });
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ ...validManifest(), description: "x".repeat(300 * 1024) }));
    const err = await loadError(dir);
    assert.match(err.message, /larger than 256 KiB/);
  });

  test("a path that is not a folder is refused", async () => {
    const dir = await toolDir({ "file.txt": "x" });
    const err = await loadError(join(dir, "file.txt"));
    assert.match(err.message, /is not a folder/);
    const missing = await loadError(join(await tempDir(), "nope"));
    assert.match(missing.message, /does not exist/);
  });

  test("validateToolDir returns the problems instead of throwing", async () => {
    const { tool, problems } = await validateToolDir(await isolateTool((m) => (m.version = "one")));
    assert.equal(tool, null);
    assert.deepEqual(problems, [{ path: "version", message: 'version must be semver; fix: use MAJOR.MINOR.PATCH, e.g. "1.0.0"' }]);
  });

  test("a problem in another file names that file", async () => {
    const dir = await isolateTool();
    const { symlink } = await import("node:fs/promises");
    await symlink("/etc/passwd", join(dir, "passwd"));
    const { problems } = await validateToolDir(dir);
    assert.deepEqual(problems.map((p) => p.file), ["passwd"]);
  });
});
