import assert from "node:assert/strict";
import { test } from "node:test";
import { redactKeys, redactSecretValues, REDACTED } from "../../src/capabilities/redaction.js";

test("a secret value is redacted wherever it appears in strings, keys included", () => {
  const secret = "sk-123456";
  const { value, redacted } = redactSecretValues({ a: `x${secret}y`, list: [secret], [secret]: 1, n: 5 }, [secret]);
  assert.equal(redacted, true);
  assert.deepEqual(value, { a: `x${REDACTED}y`, list: [REDACTED], [REDACTED]: 1, n: 5 });
});

test("output without secrets is returned unchanged and not flagged", () => {
  const { value, redacted } = redactSecretValues({ a: "plain" }, ["sk-123456"]);
  assert.equal(redacted, false);
  assert.deepEqual(value, { a: "plain" });
});

test("configured keys are redacted at any depth, case-insensitively", () => {
  const out = redactKeys({ user: "u", Password: "p", nested: [{ token: "t", ok: 1 }] }, ["password", "token"]);
  assert.deepEqual(out, { user: "u", Password: REDACTED, nested: [{ token: REDACTED, ok: 1 }] });
});

test("redaction never pollutes prototypes through a __proto__ key in tool output", () => {
  const hostile = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": "sk-123456"}');
  const { value } = redactSecretValues(hostile, ["sk-123456"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value as object).sort(), ["__proto__", "a"]);
});
