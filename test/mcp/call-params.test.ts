import assert from "node:assert/strict";
import { test } from "node:test";
import { readCallParams } from "../../src/mcp/call-params.js";

test("readCallParams: only a string name and an object (or absent) arguments are well formed", () => {
  assert.deepEqual(readCallParams({ name: "a", arguments: { x: 1 }, _meta: { progressToken: 3 } }), { ok: true, name: "a", arguments: { x: 1 }, progressToken: 3 });
  assert.equal(readCallParams({ name: "a" }).ok, true);
  assert.equal(readCallParams({ name: "a", arguments: null }).ok, false);
  assert.equal(readCallParams({ name: { toString: 1 } }).name, "<object>");
  assert.equal(readCallParams(undefined).name, "<undefined>");
});
