import assert from "node:assert/strict";
import { test } from "node:test";
import { RefusalBudget } from "../../src/broker/refusal-budget.js";

test("RefusalBudget: 60 refusals at once, then 10 a second; load and cancellation do not count", () => {
  let now = 0;
  const b = new RefusalBudget(60, 10, () => now);
  for (let i = 0; i < 100; i++) b.spend("x", "E_BUSY");
  assert.equal(b.retryAfter("x"), 0);
  for (let i = 0; i < 60; i++) b.spend("x", "E_UNKNOWN_TOOL");
  assert.equal(b.retryAfter("x"), 1);
  assert.equal(b.retryAfter("y"), 0, "another identity is not affected");
  now = 200;
  assert.equal(b.retryAfter("x"), 0);
});
