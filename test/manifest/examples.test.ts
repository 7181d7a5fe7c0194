import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { createIsolateExecutor } from "../../sandboxes/isolate/index.js";
import type { ExecuteOutcome, ToolHost } from "../../sandboxes/executor.js";
import { compileJsonSchema, loadTool, validateToolDir, type LoadedTool } from "../../src/manifest/index.js";
import { repoDir } from "./fixture.js";

const EXAMPLES = join(repoDir(), "examples", "tools");

/** Runs a loaded example in a real isolate with a host that records log and progress. */
async function runInIsolate(tool: LoadedTool, input: unknown) {
  const logs: string[] = [];
  const progress: [number, number | undefined][] = [];
  const host: ToolHost = {
    log: (level, message) => logs.push(`${level}: ${message}`),
    progress: (done, total) => progress.push([done, total]),
    fetch: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "no network in this test" } }),
    fs: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "no filesystem in this test" } }),
    recordEgress: () => {},
  };
  const m = tool.manifest;
  const outcome: ExecuteOutcome = await executor.execute({
    callId: `example-${m.name}`,
    tool: { name: m.name, version: m.version, digest: tool.digest, runtime: "isolate", dir: tool.dir, entry: m.entry, modules: tool.sources, limits: tool.limits, network: false, volumes: [] },
    input,
    env: {},
    host,
    signal: new AbortController().signal,
  });
  return { outcome, logs, progress };
}

/** The broker's checks on the way in and out: input and output must match the manifest's schemas. */
function checkedOutput(tool: LoadedTool, input: unknown, outcome: ExecuteOutcome): Record<string, unknown> {
  assert.deepEqual(compileJsonSchema(tool.manifest.inputSchema!)(input), { ok: true });
  assert.ok(outcome.ok, `the call failed: ${JSON.stringify(outcome)}`);
  assert.deepEqual(compileJsonSchema(tool.manifest.outputSchema!)(outcome.output), { ok: true });
  return outcome.output as Record<string, unknown>;
}

const executor = createIsolateExecutor({ workers: 1 });
after(() => executor.close());

describe("examples/tools", () => {
  test("every example tool folder validates", async () => {
    const names = (await readdir(EXAMPLES, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    assert.ok(names.includes("word_stats") && names.includes("text_summary") && names.includes("count_slowly"));
    for (const name of names) {
      const { problems } = await validateToolDir(join(EXAMPLES, name));
      assert.deepEqual(problems, [], `examples/tools/${name}`);
    }
  });

  test("isolate examples import nothing but relative files (no Node built-ins, no packages)", async () => {
    for (const name of ["word_stats", "text_summary", "count_slowly"]) {
      const tool = await loadTool(join(EXAMPLES, name));
      for (const [file, source] of Object.entries(tool.sources ?? {})) {
        for (const [, specifier] of source.matchAll(/\bimport\s*(?:[^"'()]*?\bfrom\s*)?["']([^"']+)["']/g))
          assert.match(specifier!, /^\.\.?\//, `${name}/${file} imports "${specifier}"`);
        assert.doesNotMatch(source, /\brequire\s*\(|\bprocess\./, `${name}/${file}`);
      }
    }
  });

  test("word_stats counts words, characters, lines and the top words", async () => {
    const tool = await loadTool(join(EXAMPLES, "word_stats"));
    const input = { text: "Hello warden, hello world\nsecond line" };
    const { outcome } = await runInIsolate(tool, input);
    assert.deepEqual(checkedOutput(tool, input, outcome), {
      words: 6,
      characters: 37,
      lines: 2,
      topWords: [{ word: "hello", count: 2 }, { word: "line", count: 1 }, { word: "second", count: 1 }, { word: "warden", count: 1 }, { word: "world", count: 1 }],
    });
  });

  test("text_summary loads its relative helper module and keeps the best sentences in order", async () => {
    const tool = await loadTool(join(EXAMPLES, "text_summary"));
    assert.ok(tool.files.includes("lib/sentences.js"));
    const text = "Warden hosts tools. Tools run in isolates. The weather is nice. Isolates keep tools apart from the host.";
    const input = { text, maxSentences: 2 };
    const { outcome } = await runInIsolate(tool, input);
    const output = checkedOutput(tool, input, outcome);
    assert.equal(output.sentences, 4);
    const picked = String(output.summary);
    assert.doesNotMatch(picked, /weather/);
    assert.equal(picked.split(/(?<=\.)\s/).length, 2);
  });

  test("count_slowly reports progress and a log line at every step", async () => {
    const tool = await loadTool(join(EXAMPLES, "count_slowly"));
    const input = { n: 5, workPerStep: 1000 };
    const { outcome, progress, logs } = await runInIsolate(tool, input);
    assert.deepEqual(checkedOutput(tool, input, outcome), { counted: 5 });
    assert.deepEqual(progress, [[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
    assert.deepEqual(logs.filter((l) => l.startsWith("info:")), [1, 2, 3, 4, 5].map((i) => `info: counted ${i} of 5`));
  });

  test("count_slowly refuses n above 50 at the input check", async () => {
    const tool = await loadTool(join(EXAMPLES, "count_slowly"));
    assert.equal(compileJsonSchema(tool.manifest.inputSchema!)({ n: 51 }).ok, false);
  });

  test("example manifests point at the shipped JSON Schema", async () => {
    for (const name of ["word_stats", "text_summary", "count_slowly"]) {
      const manifest = JSON.parse(await readFile(join(EXAMPLES, name, "manifest.json"), "utf8"));
      assert.equal(manifest.$schema, "../../../schema/manifest.schema.json");
    }
  });
});
