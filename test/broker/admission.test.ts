import assert from "node:assert/strict";
import { test } from "node:test";
import { Admission } from "../../src/broker/admission.js";

const signal = new AbortController().signal;

test("past maxInFlight + maxQueue a call is refused with E_BUSY at once", async () => {
  const a = new Admission(2, 1);
  const r1 = await a.acquire("a", signal);
  await a.acquire("b", signal);
  const queued = a.acquire("c", signal);
  await assert.rejects(a.acquire("d", signal), { code: "E_BUSY" });
  r1();
  const r3 = await queued;
  assert.equal(a.inFlight, 2);
  r3();
});

test("a queued call that is cancelled leaves the queue with E_CANCELLED", async () => {
  const a = new Admission(1, 4);
  const release = await a.acquire("a", signal);
  const c = new AbortController();
  const waiting = a.acquire("a", c.signal);
  c.abort();
  await assert.rejects(waiting, { code: "E_CANCELLED" });
  release();
  assert.equal(a.inFlight, 0);
});

test("one identity keeps a slot free for others, holds at most half the queue, and a freed slot goes to the identity running fewer calls", async () => {
  const a = new Admission(4, 8);
  assert.equal(a.perActorInFlight, 3);
  assert.equal(a.perActorQueue, 4);
  const greedy = await Promise.all([1, 2, 3].map(() => a.acquire("greedy", signal)));
  const admitted: string[] = [];
  const queued = [0, 1, 2, 3].map((i) => a.acquire("greedy", signal).then((release) => (admitted.push(`g${i}`), release)));
  await assert.rejects(a.acquire("greedy", signal), { code: "E_BUSY", message: /per identity/ });
  const polite = await a.acquire("polite", signal); // the slot kept for others, at once
  const politeQueued = a.acquire("polite", signal).then((release) => (admitted.push("p1"), release));
  const settle = () => new Promise((r) => setImmediate(r));
  greedy[0]!(); // greedy runs 2, polite 1: polite's waiter goes first although greedy's waited longer
  await settle();
  assert.deepEqual(admitted, ["p1"]);
  greedy[1]!(); // greedy runs 1, polite 2: greedy's oldest waiter
  await settle();
  assert.deepEqual(admitted, ["p1", "g0"]);
  polite();
  (await politeQueued)();
  greedy[2]!();
  for (const q of queued) (await q)();
  assert.equal(a.inFlight, 0);
});
