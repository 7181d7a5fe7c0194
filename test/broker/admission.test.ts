import assert from "node:assert/strict";
import { test } from "node:test";
import { Admission } from "../../src/broker/admission.js";

test("past maxInFlight + maxQueue a call is refused with E_BUSY at once", async () => {
  const a = new Admission(2, 1);
  const signal = new AbortController().signal;
  const r1 = await a.acquire(signal);
  await a.acquire(signal);
  const queued = a.acquire(signal);
  await assert.rejects(a.acquire(signal), { code: "E_BUSY" });
  r1();
  const r3 = await queued;
  assert.equal(a.inFlight, 2);
  r3();
});

test("a queued call that is cancelled leaves the queue with E_CANCELLED", async () => {
  const a = new Admission(1, 4);
  const signal = new AbortController().signal;
  const release = await a.acquire(signal);
  const c = new AbortController();
  const waiting = a.acquire(c.signal);
  c.abort();
  await assert.rejects(waiting, { code: "E_CANCELLED" });
  release();
  assert.equal(a.inFlight, 0);
});
