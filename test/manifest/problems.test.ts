import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import { formatJsonPath, formatZodProblems } from "../../src/manifest/index.js";

describe("formatZodProblems (shared with the config loader)", () => {
  const Config = z.strictObject({
    volumes: z.record(z.string(), z.strictObject({ path: z.string(), maxBytes: z.number().int().optional() })),
    tools: z.array(z.string()),
  });

  test("JSON paths read like code: dots for names, brackets for indexes and odd keys", () => {
    assert.equal(formatJsonPath([]), "");
    assert.equal(formatJsonPath(["capabilities", "network", "allow", 2]), "capabilities.network.allow[2]");
    assert.equal(formatJsonPath(["volumes", "my volume", "path"]), 'volumes["my volume"].path');
    assert.equal(formatJsonPath(["$schema"]), "$schema");
  });

  test("unknown keys get a did-you-mean from the schema that produced the error, through records and arrays", () => {
    const result = Config.safeParse({ volumes: { work: { path: "/srv", maxBytez: 1 } }, tool: [] });
    assert.equal(result.success, false);
    const byPath = (x: { path: string }, y: { path: string }) => x.path.localeCompare(y.path);
    assert.deepEqual(formatZodProblems(result.error!, Config).sort(byPath), [
      { path: "tool", message: 'unknown key "tool"; fix: remove it; did you mean "tools"?' },
      { path: "tools", message: "required array is missing; fix: add it" },
      { path: "volumes.work.maxBytez", message: 'unknown key "maxBytez"; fix: remove it; did you mean "maxBytes"?' },
    ]);
  });

  test("a far-off unknown key lists the known keys instead of guessing", () => {
    const result = Config.safeParse({ volumes: {}, tools: [], zzzzzzzz: 1 });
    assert.deepEqual(formatZodProblems(result.error!, Config), [{ path: "zzzzzzzz", message: 'unknown key "zzzzzzzz"; fix: remove it (known keys: volumes, tools)' }]);
  });

  test("without the schema, unknown keys are still reported with a fix", () => {
    const result = Config.safeParse({ volumes: {}, tools: [], extra: 1 });
    assert.deepEqual(formatZodProblems(result.error!), [{ path: "extra", message: 'unknown key "extra"; fix: remove it' }]);
  });

  test("type errors name what was expected and what was found", () => {
    const result = Config.safeParse({ volumes: { w: { path: 3 } }, tools: "x" });
    assert.deepEqual(formatZodProblems(result.error!, Config).map((p) => `${p.path}: ${p.message}`).sort(), [
      "tools: expected an array, got string; fix: change it to an array",
      "volumes.w.path: expected a string, got number; fix: change it to a string",
    ]);
  });
});
