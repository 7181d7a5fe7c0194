import assert from "node:assert/strict";
import { test } from "node:test";
import { compileJsonSchema, jsonSchemaProblems } from "../../src/manifest/json-schema.js";
import { validateToolDir } from "../../src/manifest/load.js";
import { createLogger } from "../../src/logger.js";
import { openRuntime } from "../../src/runtime/open.js";
import { readAudit } from "../helpers/audit-read.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";
import { isolateTool } from "./fixture.js";

const EVIL = { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } };
const EVIL_INPUT = { s: `${"a".repeat(40)}b` };

test("a catastrophic-backtracking pattern answers at once: schema patterns run on a linear-time engine", () => {
  const check = compileJsonSchema(EVIL);
  const started = performance.now();
  const result = check(EVIL_INPUT);
  const ms = performance.now() - started;
  assert.equal(result.ok, false);
  // V8's backtracking engine needs about 2^40 steps here (hours); RE2 needs one pass.
  assert.ok(ms < 50, `took ${ms} ms`);
  assert.equal(check({ s: "aaaa" }).ok, true);
  assert.equal(check({ s: "b".repeat(200_000) }).ok, false);
});

test("every pattern of a schema is checked with its own expression (patterns are not confused with each other)", () => {
  const check = compileJsonSchema({
    type: "object",
    properties: { a: { type: "string", pattern: "^x" }, b: { type: "string", pattern: "y$" } },
    patternProperties: { "^n_[0-9]+$": { type: "integer" } },
  });
  assert.equal(check({ a: "xa", b: "ay", n_1: 3 }).ok, true);
  assert.equal(check({ a: "ax" }).ok, false);
  assert.equal(check({ b: "ya" }).ok, false);
  assert.equal(check({ n_12: "not an integer" }).ok, false);
  assert.equal(compileJsonSchema({ type: "string", pattern: "^ABC$" })("abc").ok, false, "case matters");
});

test("patterns RE2 cannot express (backreferences, lookaround) are refused with a clear problem", () => {
  for (const pattern of ["(a)\\1", "^(?=a)", "(?!x)y", "(?<=a)b"]) {
    const problems = jsonSchemaProblems({ type: "object", properties: { s: { type: "string", pattern } } });
    assert.equal(problems.length, 1, pattern);
    assert.match(problems[0]!, /cannot run on the linear-time regex engine/);
    assert.match(problems[0]!, /backreferences or lookaround/);
  }
  assert.deepEqual(jsonSchemaProblems({ type: "object", patternProperties: { "^x-(?<name>[a-z]+)$": { type: "string" } } }), [], "named groups are fine");
});

test("a manifest whose inputSchema has a lookaround pattern is refused at load, naming the field", async () => {
  const dir = await isolateTool((m) => {
    m.inputSchema = { type: "object", properties: { s: { type: "string", pattern: "^(?!admin)" } } };
  });
  const { tool, problems } = await validateToolDir(dir);
  assert.equal(tool, null);
  assert.ok(problems.some((p) => /inputSchema/.test(p.path) && /linear-time regex engine/.test(p.message)), JSON.stringify(problems));
});

test("through the broker: that schema and input answer E_INPUT_INVALID within 50 ms while other calls are served", async () => {
  const ws = makeWorkspace({
    tools: {
      picky: { manifest: isolateManifest("picky", { inputSchema: EVIL }), files: { "index.js": "export default async function run() { return { ran: true }; }\n" } },
      adder: {
        manifest: isolateManifest("adder", { inputSchema: { type: "object", properties: { a: { type: "number" } } } }),
        files: { "index.js": "export default async function run(i) { return { sum: i.a + 1 }; }\n" },
      },
    },
  });
  await approveAll(ws);
  const runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  try {
    const ctx = { actor: "stdio", signal: new AbortController().signal };
    await runtime.broker.call("adder", { a: 0 }, ctx); // warm the isolate path
    const [evil, ...others] = await Promise.all([
      runtime.broker.call("picky", EVIL_INPUT, ctx),
      ...Array.from({ length: 5 }, (_, i) => runtime.broker.call("adder", { a: i }, ctx)),
    ]);
    assert.equal(!evil!.ok && evil!.error.code, "E_INPUT_INVALID");
    assert.deepEqual(others.map((r) => r.ok && r.output), [1, 2, 3, 4, 5].map((sum) => ({ sum })));
    const record = readAudit(ws.auditFile).find((r) => r.tool === "picky")!;
    assert.equal(record.errorCode, "E_INPUT_INVALID");
    assert.ok((record.durationMs as number) < 50, `the broker spent ${record.durationMs} ms on it`);
  } finally {
    await runtime.close();
  }
});

test("a schema that declares draft-07 (as the community npm servers' schemas do) compiles, with linear-time patterns too", () => {
  const check = compileJsonSchema({ $schema: "http://json-schema.org/draft-07/schema#", type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } }, required: ["s"] });
  assert.equal(check({}).ok, false);
  const started = performance.now();
  assert.equal(check(EVIL_INPUT).ok, false);
  assert.ok(performance.now() - started < 50);
  assert.equal(check({ s: "aaa" }).ok, true);
});
