/** Imports an isolate tool may make: relative files of its own folder, nothing else. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { snapshotToolFolder } from "../../../src/manifest/digest.js";
import { createIsolateExecutor, type IsolateExecutor } from "../../../sandboxes/isolate/index.js";
import { resolveToolImport } from "../../../sandboxes/isolate/module-resolver.js";
import { runTool, toolInTempDir } from "./tool-in-temp-dir.js";

describe("tool module imports", () => {
  const modules = { "index.js": "", "lib/util.js": "", "lib/deep/x.js": "" };

  test("relative files inside the tool folder resolve", () => {
    assert.deepEqual(resolveToolImport("./lib/util.js", "index.js", modules), { ok: true, path: "lib/util.js" });
    assert.deepEqual(resolveToolImport("../util.js", "lib/deep/x.js", modules), { ok: true, path: "lib/util.js" });
  });

  for (const [specifier, why] of [
    ["fs", /only import relative files/],
    ["node:fs", /only import relative files/],
    ["lodash", /only import relative files/],
    ["/etc/passwd", /only import relative files/],
    ["file:///etc/passwd", /only import relative files/],
    ["../outside.js", /leaves the tool folder/],
    ["./lib/../../outside.js", /leaves the tool folder/],
    ["./missing.js", /no module file/],
  ] as const) {
    test(`import "${specifier}" is refused`, () => {
      const resolution = resolveToolImport(specifier, "index.js", modules);
      assert.equal(resolution.ok, false);
      assert.match(resolution.ok ? "" : resolution.message, why);
    });
  }

  describe("in a running isolate", () => {
    let executor: IsolateExecutor;
    before(async () => {
      executor = createIsolateExecutor({ workers: 1 });
      await executor.ready();
    });
    after(() => executor.close());

    test("a tool split over several files runs", async () => {
      const tool = toolInTempDir({
        "index.js": `import { double } from "./lib/math.js"; export default async function run(input) { return double(input.n); }`,
        "lib/math.js": `import { two } from "./consts.mjs"; export const double = (n) => n * two;`,
        "lib/consts.mjs": `export const two = 2;`,
      });
      assert.deepEqual(await runTool(executor, tool, { n: 4 }), { ok: true, output: 8, outputBytes: 1 });
    });

    test("an import climbing out of the tool folder ends with E_TOOL_FAILED", async () => {
      const parent = toolInTempDir({ "secret.js": "export default 'stolen';", "tool/index.js": `import x from "../secret.js"; export default async function run() { return x; }` });
      // The tool folder is tool/: secret.js sits right next to it, not in it.
      const tool = { ...parent, dir: join(parent.dir, "tool"), modules: { "index.js": parent.modules!["tool/index.js"]! } };
      const outcome = await runTool(executor, tool);
      assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TOOL_FAILED");
      assert.match(outcome.ok ? "" : outcome.error.message, /leaves the tool folder/);
    });

    test("a symlink in the tool folder is not followed to a file outside it", async () => {
      const outside = toolInTempDir({ "index.js": "export default 'outside';" });
      const tool = toolInTempDir({ "index.js": `import x from "./linked.js"; export default async function run() { return x; }` });
      symlinkSync(join(outside.dir, "index.js"), join(tool.dir, "linked.js"));
      // The modules a backend gets come from the digest's snapshot, which refuses links instead of reading through them.
      const snapshot = await snapshotToolFolder(tool.dir);
      assert.ok(snapshot.problems.some((p) => p.file === "linked.js"));
      const modules = Object.fromEntries(snapshot.files.map((f) => [f.path, f.content.toString("utf8")]));
      const outcome = await runTool(executor, { ...tool, modules });
      assert.equal(outcome.ok ? "ok" : outcome.error.code, "E_TOOL_FAILED");
      assert.match(outcome.ok ? "" : outcome.error.message, /no module file linked\.js/);
    });
  });
});
