import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { validateCommand } from "../../src/cli/validate.js";
import type { CliIo } from "../../src/cli/types.js";
import { isolateTool, repoDir, toolDir, validManifest } from "../manifest/fixture.js";

function captured(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

const run = (positionals: string[], io: CliIo) => validateCommand({ positionals, flags: {}, configPath: "warden.config.json" }, io);

describe("warden validate <dir>", () => {
  test("a valid tool prints ok: name@version (runtime) and its digest, exit 0", async () => {
    const io = captured();
    assert.equal(await run([join(repoDir(), "examples", "tools", "word_stats")], io), 0);
    assert.match(io.out, /^ok: word_stats@1\.0\.0 \(isolate\) digest sha256:[0-9a-f]{64}\n$/);
    assert.equal(io.err, "");
  });

  test("a container tool is ok and the output says the image is not checked here", async () => {
    const manifest = { ...validManifest(), runtime: "container", image: "warden-tools/fetch-weather:1" } as Record<string, unknown>;
    delete manifest.entry;
    const io = captured();
    assert.equal(await run([await toolDir({ "manifest.json": manifest })], io), 0);
    assert.match(io.out, /^ok: fetch_weather@1\.2\.0 \(container\) digest sha256:/);
    assert.match(io.out, /warden images build/);
  });

  test("an invalid tool lists every problem with file, path and fix on stderr, exit 1", async () => {
    const dir = await isolateTool((m) => {
      m.effect = "reed";
      m.limts = {};
      m.entry = "missing.js";
    });
    const io = captured();
    assert.equal(await run([dir], io), 1);
    assert.equal(io.out, "");
    const lines = io.err.trim().split("\n");
    assert.equal(lines[0], `invalid: ${dir}: 3 problem(s)`);
    assert.deepEqual(lines.slice(1).map((l) => l.trim().split(": ").slice(0, 2).join(": ")).sort(), [
      "manifest.json: effect",
      "manifest.json: entry",
      "manifest.json: limts",
    ]);
    assert.match(io.err, /unknown key "limts"; fix: remove it; did you mean "limits"\?/);
    assert.match(io.err, /"reed" is not one of "read", "write", "destructive"; fix: did you mean "read"\?/);
  });

  test("a folder that does not exist fails with exit 1", async () => {
    const io = captured();
    assert.equal(await run([join(await toolDir({}), "nope")], io), 1);
    assert.match(io.err, /does not exist; fix: pass the tool folder/);
  });

  test("a missing argument is a usage error, exit 2", async () => {
    const io = captured();
    assert.equal(await run([], io), 2);
    assert.match(io.err, /usage: warden validate <tool folder>/);
  });

  test("extra arguments are a usage error, exit 2", async () => {
    const io = captured();
    assert.equal(await run(["a", "b"], io), 2);
  });
});
