/**
 * An isolate worker process. isolated-vm can abort the whole process (even
 * inside try), so isolates never live in the broker: the broker forks a few of
 * these, and when one dies it ends that worker's calls with E_SANDBOX_CRASHED
 * and starts another. A worker keeps up to SLOTS isolates, each bound to one
 * tool and running one call at a time; calls beyond that wait here.
 */
import { IsolateSlot } from "./isolate-slot.js";
import { ToolBridge } from "./tool-bridge.js";
import type { ErrorPayload } from "../../src/errors.js";
import type { FromWorker, ToWorker, WireTool } from "./protocol.js";
import { TIMINGS_ON } from "./timings.js";

/** Isolates per worker (argv[2], default 2): one can run a call while the main thread prepares another's next context. */
const SLOTS = Math.max(1, Number(process.argv[2]) || 2);

type QueuedCall = Extract<ToWorker, { t: "call" }>;
/** How long a top-level timeout/memory verdict stands before the module is tried again. */
const TRANSIENT_VERDICT_MS = 60_000;

/**
 * Messages to the broker leave in one IPC write per turn of this thread: a call's "done" and the "started" of the
 * next call, or the "queued" of calls that arrived together, share one pipe write and one wake-up of the broker
 * (each write woke it separately; #14). Order is kept: the batch is a list, read in order.
 */
let outbox: FromWorker[] = [];
const flush = (): void => {
  const batch = outbox;
  outbox = [];
  // With a callback, a send on a channel the broker already closed is dropped instead of crashing the worker.
  const payload: FromWorker = batch.length === 1 ? batch[0]! : { t: "batch", messages: batch };
  if (process.connected) process.send!(payload, undefined, undefined, () => undefined);
};
const send = (message: FromWorker): void => {
  if (outbox.push(message) === 1) queueMicrotask(flush);
};
const bridge = new ToolBridge(send);
const tools = new Map<string, WireTool>();
const slots: IsolateSlot[] = [];
const queue: QueuedCall[] = [];
const runningOn = new Map<number, IsolateSlot>();
/** Calls the broker was told are waiting here (not started): it may retry them elsewhere if this worker dies. */
const announcedQueued = new Set<number>();
/**
 * Tools whose module top-level failed (threw, timed out, ran out of memory, bad import): the same bytes fail the
 * same way, so their next calls fail at once instead of running the top level again per call.
 */
const verdicts = new Map<string, { error: ErrorPayload; until: number }>();
/** WARDEN_TIMINGS=1 only: when each call arrived here (performance.now()). */
const arrived = new Map<number, number>();

function verdictFor(key: string): ErrorPayload | undefined {
  const verdict = verdicts.get(key);
  if (verdict && verdict.until <= Date.now()) verdicts.delete(key);
  return verdict && verdict.until > Date.now() ? verdict.error : undefined;
}

/**
 * V8 lost control of an isolate: report which call's isolate it was (its tool is charged), then go down AT ONCE,
 * inside this handler. isolated-vm parks the isolate's thread forever holding the isolate's lock, so anything the
 * main thread does next that touches that isolate blocks for good (measured: a deferred exit never came and the
 * broker never heard of the worker again). The IPC write of a small message completes synchronously on a pipe;
 * the broker charges the call from it, and from the exit.
 */
function fault(slot: IsolateSlot, runningCallId: number | undefined, message: string): void {
  try {
    if (process.connected) process.send!({ t: "fault", id: runningCallId ?? 0, key: slot.tool.key, message } satisfies FromWorker);
  } finally {
    // Not process.exit: its teardown waits on the parked isolate thread (measured: it hung in a futex forever).
    process.kill(process.pid, "SIGKILL");
  }
}

/** An idle slot for this tool (one with a prepared context first), or a new one in a free or evictable place. */
function slotFor(key: string): IsolateSlot | undefined {
  let idle: IsolateSlot | undefined;
  for (const slot of slots) {
    if (slot.busy || slot.tool.key !== key) continue;
    if (slot.hasReady()) return slot;
    idle ??= slot;
  }
  if (idle) return idle;
  const tool = tools.get(key);
  if (!tool) return undefined;
  if (slots.length < SLOTS) {
    const slot = new IsolateSlot(tool, bridge, fault);
    slots.push(slot);
    return slot;
  }
  const evictable = slots.filter((s) => !s.busy).sort((a, b) => a.lastUsed - b.lastUsed)[0];
  if (evictable) {
    evictable.dispose();
    const slot = new IsolateSlot(tool, bridge, fault);
    slots[slots.indexOf(evictable)] = slot;
    return slot;
  }
  // Every isolate is busy with OTHER tools' calls (e.g. a tool spinning in its module top level in all of them):
  // this tool gets an extra isolate rather than wait behind another tool's code. Bounded; shrunk back when idle.
  if (!slots.some((s) => s.tool.key === key) && slots.length < SLOTS * 2) {
    const slot = new IsolateSlot(tool, bridge, fault);
    slots.push(slot);
    return slot;
  }
  return undefined;
}

function pump(): void {
  for (let i = 0; i < queue.length; ) {
    const call = queue[i]!;
    const verdict = verdictFor(call.key);
    if (verdict) {
      queue.splice(i, 1);
      announcedQueued.delete(call.id);
      send({ t: "done", id: call.id, ok: false, error: verdict, verdict: true });
      continue;
    }
    const slot = slotFor(call.key);
    if (!slot) {
      i += 1;
      continue;
    }
    queue.splice(i, 1);
    if (announcedQueued.delete(call.id)) send({ t: "started", id: call.id });
    start(call, slot);
  }
}

function start(call: QueuedCall, slot: IsolateSlot): void {
  runningOn.set(call.id, slot);
  const startedAt = TIMINGS_ON ? performance.now() : 0;
  slot.run(call).then(async (done) => {
    const appliedAt = TIMINGS_ON ? performance.now() : 0;
    runningOn.delete(call.id);
    // ctx.log / ctx.progress are fire-and-forget (applyIgnored): the last ones can still be queued
    // for this thread when the result arrives. Wait for the count the tool reported before endCall
    // refuses everything late, so a tool's final progress is not lost (measured: it was, in CI).
    if (done.ok) await notificationsDelivered(call.id, done.notified ?? 0);
    bridge.endCall(call.id);
    if (!done.ok && done.verdict) {
      // A timeout or memory verdict may be the host's load, not the code: it expires; a throw or bad import does not.
      const ttl = done.error.code === "E_TIMEOUT" || done.error.code === "E_MEMORY" ? TRANSIENT_VERDICT_MS : Number.POSITIVE_INFINITY;
      verdicts.set(call.key, { error: done.error, until: Date.now() + ttl });
      const index = slots.indexOf(slot);
      if (index >= 0 && !slot.busy) {
        slot.dispose();
        slots.splice(index, 1);
      }
    }
    if (TIMINGS_ON) {
      const now = performance.now();
      const at = arrived.get(call.id) ?? startedAt;
      arrived.delete(call.id);
      const slotTimes = slot.lastTimings;
      done = { ...done, tm: [startedAt - at, slotTimes[0], slotTimes[1], now - appliedAt + slotTimes[2], now - at] };
    }
    send(done);
    // An extra isolate (see slotFor) is given back as soon as it is idle.
    if (slots.length > SLOTS && !slot.busy && slots.includes(slot)) {
      slot.dispose();
      slots.splice(slots.indexOf(slot), 1);
    }
    pump();
    // After the answer is on its way: prepare the next calls' contexts off the critical path.
    setImmediate(() => refill(slot));
  });
}

/** Waits (bounded) until every notification the tool sent before returning has reached this thread. */
function notificationsDelivered(id: number, sent: number): Promise<void> {
  return bridge.whenReceived(id, sent, 250);
}

/** One context at a time, yielding between them so a call that arrives meanwhile is not kept waiting. */
function refill(slot: IsolateSlot): void {
  if (queue.length > 0) {
    pump();
    return;
  }
  if (!slots.includes(slot) || verdictFor(slot.tool.key)) return;
  void slot.refill().then((more) => {
    if (more) setImmediate(() => refill(slot));
  });
}

function warm(tool: WireTool): void {
  if (verdictFor(tool.key) || slots.some((s) => s.tool.key === tool.key)) return;
  const slot = slotFor(tool.key);
  if (slot) setImmediate(() => refill(slot));
}

function abort(id: number): void {
  const index = queue.findIndex((c) => c.id === id);
  if (index >= 0) {
    queue.splice(index, 1);
    announcedQueued.delete(id);
    send({ t: "done", id, ok: false, error: { code: "E_CANCELLED", message: "the call was stopped before it started" } });
    return;
  }
  runningOn.get(id)?.abort(id);
}

function receive(message: ToWorker): void {
  switch (message.t) {
    case "call":
      if (TIMINGS_ON) arrived.set(message.id, performance.now());
      if (message.tool) tools.set(message.key, message.tool);
      if (!tools.has(message.key)) {
        send({ t: "done", id: message.id, ok: false, error: { code: "E_SANDBOX_CRASHED", message: "the worker lost the tool's modules" } });
        return;
      }
      queue.push(message);
      pump();
      if (queue.includes(message)) {
        announcedQueued.add(message.id);
        send({ t: "queued", id: message.id });
      }
      return;
    case "prepare":
      tools.set(message.tool.key, message.tool);
      warm(message.tool);
      return;
    case "abort":
      abort(message.id);
      return;
    case "host-result":
      bridge.hostResult(message.req, message.result);
      return;
    case "batch":
      for (const each of message.messages) receive(each);
      return;
  }
}

process.on("message", receive);

// The broker is gone (or closed us): nobody will read our answers.
process.on("disconnect", () => process.exit(0));
// Tests only: a slow start on demand, so what must (or must not) wait for one is pinned without racing a real
// start (test/sandboxes/isolate/lazy-workers.test.ts).
const startDelayMs = Number(process.env.WARDEN_TEST_WORKER_START_DELAY_MS) || 0;
if (startDelayMs > 0) setTimeout(() => send({ t: "ready" }), startDelayMs);
else send({ t: "ready" });
