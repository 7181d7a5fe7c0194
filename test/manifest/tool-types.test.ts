import assert from "node:assert/strict";
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ToolContext, ToolFetchResponse, ToolManifest, ToolRun } from "../../src/tool/index.js";
import { ManifestSchema } from "../../src/manifest/schema.js";
import { repoDir } from "./fixture.js";

// Compile-time half: a tool written against the published types (SPEC §3) type-checks.
const run: ToolRun<{ city: string }, { tempC: number; listed: string[] }> = async (input, ctx) => {
  const res: ToolFetchResponse = await ctx.fetch(`https://api.example.com/${input.city}`, { method: "GET", headers: { accept: "application/json" } });
  const body = (await res.json()) as { t: number };
  const text: string = await ctx.fs.readFile("/mnt/workspace/a.txt", "utf8");
  const bytes: Uint8Array = await ctx.fs.readFile("/mnt/workspace/a.bin");
  await ctx.fs.writeFile("/mnt/workspace/out.txt", `${text.length + bytes.length}`);
  ctx.log("info", `status ${res.status} ${res.ok}`);
  ctx.progress(1, 1);
  if (ctx.signal.aborted || ctx.env.MISSING !== undefined) throw new Error("unreachable in this test");
  return { tempC: body.t, listed: await ctx.fs.readdir("/mnt/workspace") };
};

const manifest: Pick<ToolManifest, "name" | "runtime" | "effect"> = { name: "typed_tool", runtime: "isolate", effect: "read" };

test("a tool written against mcp-warden/tool types runs with a ctx of that shape", async () => {
  const logs: string[] = [];
  const ctx: ToolContext = {
    fetch: async (url) => ({ status: 200, ok: true, statusText: "OK", url, headers: {}, text: async () => '{"t":21}', json: async () => ({ t: 21 }), arrayBuffer: async () => new ArrayBuffer(0) }),
    fs: {
      readFile: (async (_path: string, encoding?: string) => (encoding ? "abc" : new Uint8Array(2))) as ToolContext["fs"]["readFile"],
      writeFile: async () => {},
      readdir: async () => ["a.txt", "a.bin"],
      stat: async () => ({ type: "file", size: 0, mode: 0o644, mtimeMs: 0 }),
      mkdir: async () => {},
      rm: async () => {},
    },
    env: {},
    log: (level, message) => logs.push(`${level}: ${message}`),
    progress: () => {},
    signal: { aborted: false, reason: undefined },
  };
  assert.deepEqual(await run({ city: "oslo" }, ctx), { tempC: 21, listed: ["a.txt", "a.bin"] });
  assert.deepEqual(logs, ["info: status 200 true"]);
  // The published manifest type is the schema's: a shipped example parses into it.
  const parsed: ToolManifest = ManifestSchema.parse(JSON.parse(readFileSync(join(repoDir(), "examples", "tools", "word_stats", "manifest.json"), "utf8")));
  assert.equal(parsed.runtime, manifest.runtime);
});
