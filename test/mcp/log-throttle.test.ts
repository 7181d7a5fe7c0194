import assert from "node:assert/strict";
import { test } from "node:test";
import { LogThrottle, summarizeClientError } from "../../src/mcp/log-throttle.js";

test("summarizeClientError keeps the sentence and the id, never the quoted body", () => {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 42, result: { pad: "P".repeat(9000) } });
  assert.equal(summarizeClientError(`Received a response for an unknown message ID: ${body}`), "Received a response for an unknown message ID (id 42)");
});

test("LogThrottle lets 10 lines a minute through and counts the rest", () => {
  let now = 0;
  const t = new LogThrottle(10, () => now);
  const passed = Array.from({ length: 25 }, () => t.take()).filter(Boolean).length;
  assert.equal(passed, 10);
  now = 60_000;
  assert.deepEqual(t.take(), { suppressedBefore: 15 });
});
