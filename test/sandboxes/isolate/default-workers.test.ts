import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultIsolateWorkers } from "../../../sandboxes/isolate/index.js";

// #14: a worker costs ~70 MB and keeps 2 cores busy (2 isolates on their own threads): one per two cores,
// but at least two, so four calls can run at once (tenant fairness with calls awaiting host fetches).
test("isolate workers default to one per two cores, at least 2, at most 4", () => {
  assert.deepEqual([1, 2, 3, 4, 6, 8, 16, 64].map((c) => defaultIsolateWorkers(c)), [2, 2, 2, 2, 3, 4, 4, 4]);
});
