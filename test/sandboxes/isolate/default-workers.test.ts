import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultIsolateWorkers } from "../../../sandboxes/isolate/index.js";

// #14: a worker costs ~70 MB and keeps 2 cores busy (2 isolates on their own threads): one per two cores.
test("isolate workers default to one per two cores, at least 1, at most 4", () => {
  assert.deepEqual([1, 2, 3, 4, 6, 8, 16, 64].map((c) => defaultIsolateWorkers(c)), [1, 1, 1, 2, 3, 4, 4, 4]);
});
