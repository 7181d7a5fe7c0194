import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { compileJsonSchema } from "../../src/manifest/index.js";
import { MAX_PROBLEMS, jsonSchemaProblems } from "../../src/manifest/json-schema.js";

const CITY = { type: "object", properties: { city: { type: "string", maxLength: 8 } }, required: ["city"], additionalProperties: false };

function problemsOf(result: ReturnType<ReturnType<typeof compileJsonSchema>>): string[] {
  assert.equal(result.ok, false);
  return result.ok ? [] : result.problems;
}

describe("compileJsonSchema: call input/output validation", () => {
  test("valid input passes", () => {
    assert.deepEqual(compileJsonSchema(CITY)({ city: "Paris" }), { ok: true });
  });

  test("a missing required property is named", () => {
    assert.deepEqual(problemsOf(compileJsonSchema(CITY)({})), ['(root): missing required property "city"']);
  });

  test("an unknown property is named (additionalProperties: false)", () => {
    assert.deepEqual(problemsOf(compileJsonSchema(CITY)({ city: "Oslo", admin: true })), ['(root): unknown property "admin"']);
  });

  test("an oversized argument is refused with its JSON pointer", () => {
    const [problem] = problemsOf(compileJsonSchema(CITY)({ city: "a".repeat(9) }));
    assert.match(problem!, /^\/city: must NOT have more than 8 characters$/);
  });

  test("a wrong type is refused", () => {
    assert.match(problemsOf(compileJsonSchema(CITY)({ city: 42 }))[0]!, /\/city: must be string/);
  });

  test("formats are checked (as the MCP SDK does)", () => {
    const check = compileJsonSchema({ type: "object", properties: { mail: { type: "string", format: "email" } } });
    assert.deepEqual(check({ mail: "a@example.org" }), { ok: true });
    assert.match(problemsOf(check({ mail: "not an email" }))[0]!, /\/mail: must match format "email"/);
  });

  test("draft 2020-12 keywords work (prefixItems, $defs)", () => {
    const check = compileJsonSchema({
      type: "object",
      $defs: { pos: { type: "integer", minimum: 1 } },
      properties: { pair: { type: "array", prefixItems: [{ $ref: "#/$defs/pos" }, { type: "string" }], items: false } },
    });
    assert.deepEqual(check({ pair: [1, "x"] }), { ok: true });
    assert.equal(check({ pair: [0, "x"] }).ok, false);
    assert.equal(check({ pair: [1, "x", 3] }).ok, false);
  });

  test(`at most ${MAX_PROBLEMS} problems are reported, with a count of the rest`, () => {
    const check = compileJsonSchema({ type: "object", properties: { xs: { type: "array", items: { type: "string" } } } });
    const problems = problemsOf(check({ xs: Array.from({ length: 100 }, (_, i) => i) }));
    assert.equal(problems.length, MAX_PROBLEMS + 1);
    assert.equal(problems.at(-1), `… and ${100 - MAX_PROBLEMS} more`);
  });

  test("an invalid schema does not compile", () => {
    assert.throws(() => compileJsonSchema({ type: "object", properties: { a: { type: "strin" } } }), /schema is invalid/);
  });

  test("a remote $ref is never fetched: the schema does not compile", () => {
    assert.throws(() => compileJsonSchema({ type: "object", properties: { a: { $ref: "https://evil.example/x.json" } } }), /can't resolve reference/);
  });

  test("validators stay independent: compiling another schema does not change an earlier one", () => {
    const first = compileJsonSchema(CITY);
    compileJsonSchema({ type: "object", properties: { city: { type: "number" } } });
    assert.deepEqual(first({ city: "Rome" }), { ok: true });
    assert.equal(first({ city: 1 }).ok, false);
  });

  test("a schema cannot $ref into another tool's schema", () => {
    compileJsonSchema({ type: "object", $defs: { secret: { $id: "https://tool-a.example/s", type: "string" } } });
    assert.throws(() => compileJsonSchema({ type: "object", properties: { x: { $ref: "https://tool-a.example/s" } } }), /can't resolve reference/);
  });

  test("two tools may use the same $id without colliding", () => {
    const a = compileJsonSchema({ $id: "https://example.org/in.json", type: "object", required: ["a"] });
    const b = compileJsonSchema({ $id: "https://example.org/in.json", type: "object", required: ["b"] });
    assert.deepEqual(a({ a: 1 }), { ok: true });
    assert.deepEqual(b({ b: 1 }), { ok: true });
    assert.equal(a({ b: 1 }).ok, false);
  });
});

describe("jsonSchemaProblems: what a manifest's schemas must satisfy", () => {
  test("a valid schema has no problems", () => {
    assert.deepEqual(jsonSchemaProblems(CITY), []);
  });

  test("a draft 2020-12 $schema declaration is accepted", () => {
    assert.deepEqual(jsonSchemaProblems({ $schema: "https://json-schema.org/draft/2020-12/schema", ...CITY }), []);
  });

  test("whatever we accept, the MCP SDK's own validator (used by clients after tools/list) compiles too", () => {
    const sdk = new AjvJsonSchemaValidator();
    const schemas = [
      CITY,
      { $schema: "https://json-schema.org/draft/2020-12/schema", ...CITY },
      { type: "object", $defs: { n: { $anchor: "n", type: "number" } }, properties: { a: { $ref: "#n" }, b: { $ref: "#/$defs/n" } } },
      { type: "object", properties: { t: { type: "array", prefixItems: [{ type: "string" }] } }, unevaluatedProperties: false, dependentRequired: { a: ["b"] } },
      { type: "object", properties: { mail: { type: "string", format: "email" } } },
    ];
    for (const schema of schemas) {
      assert.deepEqual(jsonSchemaProblems(schema), []);
      assert.doesNotThrow(() => sdk.getValidator(schema as never), JSON.stringify(schema));
    }
  });

  test("an invalid schema is reported, not thrown", () => {
    const [problem] = jsonSchemaProblems({ type: "object", required: "a" });
    assert.match(problem!, /not a valid JSON Schema \(draft 2020-12\)/);
  });

});
