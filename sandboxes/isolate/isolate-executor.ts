/**
 * The broker side of the isolate backend: owns each call's deadline and
 * cancellation (answered here at once, then the worker disposes the isolate),
 * relays ctx.fetch/ctx.fs/ctx.log to the broker's ToolHost only while the call
 * is running, and turns the tool's JSON text into the outcome.
 */
import { Buffer } from "node:buffer";
import { abortPayload, WardenError, type ErrorPayload } from "../../src/errors.js";
import type { Logger } from "../../src/logger.js";
import { LOG_THRESHOLDS, type ExecuteOutcome, type ExecuteRequest, type Executor, type HostResult, type IsolateSandboxTool, type SandboxTool } from "../executor.js";
import type { HostRequest, WireTool } from "./protocol.js";
import { wireKey, wireToolOf } from "./tool-source.js";
import { hostRequestFromWire, hostResultToWire } from "./wire-bytes.js";
import { WorkerPool, type WorkerHandle, type WorkerMessage } from "./worker-pool.js";
import { attach, mark, TIMINGS_ON } from "./timings.js";
import { boundedOutput, failure, stoppedOutcome } from "../outcome/index.js";

/** A worker that has not torn down an aborted call by then is stuck (e.g. in an uninterruptible native operation); it is killed. */
const ABORT_GRACE_MS = 2_000;
/** How long a module top-level timeout/memory verdict stands (the host's load can cause those); other verdicts last for the digest. */
const TRANSIENT_VERDICT_MS = 60_000;

export interface IsolateExecutorOptions {
  /** Worker processes (default 2). */
  workers?: number;
  /** Isolates per worker, i.e. calls a worker runs at once (default 2); more calls wait in the worker. */
  isolatesPerWorker?: number;
  logger?: Logger;
}

interface ActiveCall {
  id: number;
  /** The worker the call was sent to; undefined until one was available. */
  worker: WorkerHandle | undefined;
  request: ExecuteRequest;
  wire: WireTool;
  input: string;
  env: string;
  resolve(outcome: ExecuteOutcome): void;
  timer: NodeJS.Timeout | undefined;
  /** What is left of the call's timeoutMs when the timer was (re-)armed at `armedAt` (Date.now()). */
  budgetMs: number;
  armedAt: number;
  onAbort(): void;
  /** The worker said the call waits there and has not started: if that worker dies, it is retried on another. */
  queued: boolean;
  /** Past its deadline, being torn down: the outcome waits for the teardown so a kill is charged to this call. */
  held?: ErrorPayload;
}


export class IsolateExecutor implements Executor {
  readonly runtime = "isolate" as const;
  private readonly pool: WorkerPool;
  private readonly calls = new Map<number, ActiveCall>();
  private readonly watchdogs = new Map<number, NodeJS.Timeout>();
  private readonly loaded = new Map<string, WireTool>();
  /** Tools (by wire key) whose module top level failed: their calls fail at once instead of re-running it. */
  private readonly verdicts = new Map<string, { error: ErrorPayload; until: number }>();
  /** Why a worker is going down: the call it was killed for, or whose isolate V8 lost (a fault). */
  private readonly culprits = new WeakMap<WorkerHandle, number>();
  /** What V8 said when it lost control of an isolate (isolated-vm onCatastrophicError), by worker. */
  private readonly faults = new WeakMap<WorkerHandle, string>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: IsolateExecutorOptions = {}) {
    this.pool = new WorkerPool(options.workers ?? 2, options.isolatesPerWorker ?? 2, {
      message: (worker, message) => this.onMessage(worker, message),
      exit: (worker, inflight) => this.onWorkerExit(worker, inflight),
    }, options.logger);
  }

  /** Resolves when the workers are up (call it at broker start so the first calls do not pay a cold start). */
  ready(): Promise<void> {
    return this.pool.ready();
  }

  /** Process ids of the live workers (tests kill them to simulate a V8 crash). */
  workerPids(): number[] {
    return this.pool.pids();
  }

  async prepare(tool: SandboxTool): Promise<void> {
    if (this.closed || tool.runtime !== "isolate") return;
    try {
      const wire = this.wireTool(tool);
      if (this.verdictFor(wire.key)) return;
      for (const worker of this.pool.live()) {
        if (worker.knownTools.has(wire.key)) continue;
        worker.knownTools.add(wire.key);
        this.pool.send(worker, { t: "prepare", tool: wire });
      }
    } catch (err) {
      this.options.logger?.warn({ tool: tool.name, err: (err as Error).message }, "could not pre-warm isolate tool");
    }
  }

  async execute(request: ExecuteRequest): Promise<ExecuteOutcome> {
    const { tool, signal } = request;
    if (signal.aborted) return stoppedOutcome(signal);
    if (this.closed) return failure("E_SANDBOX_UNAVAILABLE", "the isolate executor is closed");
    if (tool.runtime !== "isolate") return failure("E_SANDBOX_UNAVAILABLE", `${tool.name} is a ${tool.runtime} tool, not an isolate tool`);
    const startedAt = Date.now();
    let wire: WireTool;
    let input: string;
    let env: string;
    try {
      wire = this.wireTool(tool);
      input = JSON.stringify(request.input ?? null);
      env = JSON.stringify(request.env ?? {});
    } catch (err) {
      if (err instanceof WardenError) return { ok: false, error: err.toPayload() };
      return failure("E_INPUT_INVALID", `the input of ${tool.name} is not JSON: ${(err as Error).message}`);
    }
    const verdict = this.verdictFor(wire.key);
    if (verdict) return { ok: false, error: verdict };
    return new Promise<ExecuteOutcome>((resolve) => {
      const id = ++this.nextId;
      const call: ActiveCall = {
        id,
        worker: undefined,
        request,
        wire,
        input,
        env,
        resolve,
        queued: false,
        timer: undefined,
        budgetMs: tool.limits.timeoutMs - (Date.now() - startedAt),
        armedAt: 0,
        onAbort: () => (call.held ? this.settle(call, { ok: false, error: call.held }) : this.stop(call, abortPayload(signal.reason), false)),
      };
      signal.addEventListener("abort", call.onAbort, { once: true });
      this.calls.set(id, call);
      this.armDeadline(call);
      void this.dispatch(call);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const call of [...this.calls.values()]) this.settle(call, failure("E_CANCELLED", "the isolate executor was closed"));
    for (const timer of this.watchdogs.values()) clearTimeout(timer);
    this.watchdogs.clear();
    this.pool.close();
  }

  /** Sends the call to the least busy live worker; with none (all down, backing off) waits for one within the call's deadline. */
  private async dispatch(call: ActiveCall): Promise<void> {
    const hasRoom = (w: WorkerHandle) => this.hasRoom(w, call.wire.key);
    let worker = this.pool.pick(hasRoom);
    while (this.calls.get(call.id) === call && !this.closed && !worker?.isBooted) {
      if (!worker) await this.pool.whenAvailable();
      else await this.waitForBoot(call, worker);
      worker = this.pool.pick(hasRoom);
    }
    if (!worker || this.calls.get(call.id) !== call) {
      if (this.calls.get(call.id) === call) this.settle(call, failure("E_SANDBOX_UNAVAILABLE", "no isolate worker is running; workers keep failing to start"));
      return;
    }
    // A retry after a crash: the crashing code's verdict (fault) may have come meanwhile.
    const verdict = this.verdictFor(call.wire.key);
    if (verdict) {
      this.settle(call, { ok: false, error: verdict });
      return;
    }
    call.worker = worker;
    call.queued = false;
    worker.inflight.add(call.id);
    const firstTime = !worker.knownTools.has(call.wire.key);
    worker.knownTools.add(call.wire.key);
    mark(call.request.callId, "sent");
    const level = call.request.host.logLevel === undefined ? -1 : LOG_THRESHOLDS.indexOf(call.request.host.logLevel);
    this.pool.send(worker, { t: "call", id: call.id, key: call.wire.key, ...(firstTime ? { tool: call.wire } : {}), input: call.input, env: call.env, ...(level > 0 ? { level } : {}) });
    // Two or more calls at once filled every isolate: the next one should find another worker already started.
    if (worker.inflight.size > 1 && worker.inflight.size >= this.pool.isolatesPerWorker) this.pool.growIfFull();
  }

  /**
   * Whether a worker has an isolate for a call of this tool now, as its slotFor decides: one of its
   * isolatesPerWorker, or, when all of them run OTHER tools' calls, one of the extra isolates it adds so a tool
   * never waits behind another tool's code (a module top level spinning in every isolate). Only then does a call
   * wait for a worker to start instead.
   */
  private hasRoom(worker: WorkerHandle, key: string): boolean {
    const size = worker.inflight.size;
    const slots = this.pool.isolatesPerWorker;
    if (size < slots) return true;
    if (size >= slots * 2) return false;
    for (const id of worker.inflight) if (this.calls.get(id)?.wire.key === key) return false;
    return true;
  }

  /** The call's deadline: E_TIMEOUT once its timeoutMs has passed outside the worker start-up waits. */
  private armDeadline(call: ActiveCall): void {
    call.armedAt = Date.now();
    call.timer = setTimeout(
      () =>
        call.worker === undefined
          ? this.settle(call, failure("E_SANDBOX_UNAVAILABLE", "no isolate worker is running; workers keep failing to start"))
          : this.stop(call, { code: "E_TIMEOUT", message: `${call.request.tool.name} ran longer than its timeout of ${call.request.tool.limits.timeoutMs} ms` }, true),
      Math.max(0, call.budgetMs),
    );
  }

  /**
   * A worker started on demand (or replacing a crashed one) is loading isolated-vm: the call waits for it with
   * its deadline paused, because the backend's own start-up never counts against a tool's timeout.
   */
  private async waitForBoot(call: ActiveCall, worker: WorkerHandle): Promise<void> {
    clearTimeout(call.timer);
    call.budgetMs -= Date.now() - call.armedAt;
    await worker.booted;
    if (this.calls.get(call.id) === call) this.armDeadline(call);
  }

  /** The tool's hashed module texts, shaped for the workers once per (name, digest, limits, entry). */
  private wireTool(tool: IsolateSandboxTool): WireTool {
    const key = sourceKey(tool);
    let wire = this.loaded.get(key);
    if (!wire) {
      wire = wireToolOf(tool);
      this.loaded.set(key, wire);
    }
    return wire;
  }

  private verdictFor(key: string): ErrorPayload | undefined {
    const verdict = this.verdicts.get(key);
    if (!verdict) return undefined;
    if (verdict.until > Date.now()) return verdict.error;
    this.verdicts.delete(key);
    return undefined;
  }

  private settle(call: ActiveCall, outcome: ExecuteOutcome): boolean {
    if (this.calls.get(call.id) !== call) return false;
    this.calls.delete(call.id);
    clearTimeout(call.timer);
    call.request.signal.removeEventListener("abort", call.onAbort);
    call.resolve(outcome);
    return true;
  }

  /**
   * Timeout or cancel: make the worker dispose the isolate, and kill the worker if it cannot (an uninterruptible
   * native operation). A cancel is answered at once; a timeout waits for the teardown (at most the grace), so
   * when its worker has to be killed the crash is this call's, not its neighbours'.
   */
  private stop(call: ActiveCall, error: ErrorPayload, hold: boolean): void {
    if (this.calls.get(call.id) !== call || call.held) return;
    const { worker, id } = call;
    // biome-ignore lint/complexity/useOptionalChain: the explicit check narrows `worker` for the code below
    const sent = worker !== undefined && worker.inflight.has(id);
    if (hold && sent) call.held = error;
    else if (!this.settle(call, { ok: false, error })) return;
    if (!sent) return;
    this.pool.send(worker, { t: "abort", id });
    const watchdog = setTimeout(() => {
      this.watchdogs.delete(id);
      if (worker.inflight.has(id)) {
        this.options.logger?.warn({ callId: call.request.callId, tool: call.request.tool.name }, "isolate worker did not stop a call in time; killing it");
        if (!this.culprits.has(worker)) this.culprits.set(worker, id);
        this.pool.kill(worker);
      }
    }, ABORT_GRACE_MS);
    watchdog.unref();
    this.watchdogs.set(id, watchdog);
  }

  private onMessage(worker: WorkerHandle, message: WorkerMessage): void {
    if (message.t === "ready") return;
    if (message.t === "fault") {
      if (!this.culprits.has(worker)) this.culprits.set(worker, message.id);
      this.faults.set(worker, String(message.message).slice(0, 200));
      // The same code would take the next worker down too (a top-level Map bomb crashes every context prepared
      // ahead, charged to nobody): its calls fail at once for a while instead; each still counts as its crash.
      const name = [...this.loaded.values()].find((w) => w.key === message.key)?.name ?? "the tool";
      this.verdicts.set(message.key, {
        error: { code: "E_SANDBOX_CRASHED", message: `${name} crashed its isolate worker (V8: ${String(message.message).slice(0, 200)}); its calls are refused for ${TRANSIENT_VERDICT_MS / 1000} s` },
        until: Date.now() + TRANSIENT_VERDICT_MS,
      });
      return;
    }
    const call = this.calls.get(message.id);
    switch (message.t) {
      case "done":
        if (TIMINGS_ON && call) {
          mark(call.request.callId, "back");
          attach(call.request.callId, "worker", message.tm);
        }
        worker.inflight.delete(message.id);
        clearTimeout(this.watchdogs.get(message.id));
        this.watchdogs.delete(message.id);
        if (!message.ok && message.verdict && call) {
          const transient = message.error.code === "E_TIMEOUT" || message.error.code === "E_MEMORY";
          this.verdicts.set(call.wire.key, { error: message.error, until: transient ? Date.now() + TRANSIENT_VERDICT_MS : Number.POSITIVE_INFINITY });
        }
        if (call) this.settle(call, call.held ? { ok: false, error: call.held } : message.ok ? outputOutcome(call.request.tool, message.json) : { ok: false, error: message.error });
        if (call) mark(call.request.callId, "parsed");
        return;
      case "queued":
        if (call?.worker === worker) call.queued = true;
        return;
      case "started":
        if (call?.worker === worker) call.queued = false;
        return;
      case "host":
        // A host request for a call that has ended (or is being torn down) is dropped: it must have no effect.
        if (call && !call.held) void this.relayHost(call, message.req, message.request);
        return;
      case "log":
        if (call && !call.held) guard(() => call.request.host.log(message.level, message.message));
        return;
      case "progress":
        if (call && !call.held) guard(() => call.request.host.progress(message.done, message.total));
        return;
    }
  }

  private async relayHost(call: ActiveCall, req: number, wireRequest: HostRequest): Promise<void> {
    const request = hostRequestFromWire(wireRequest);
    let result: HostResult<unknown>;
    try {
      result = request.op === "fetch" ? await call.request.host.fetch(request.request) : await call.request.host.fs(request.operation);
    } catch (err) {
      result = { ok: false, error: toPayload(err) };
    }
    if (this.calls.get(call.id) === call && !call.held && call.worker)
      this.pool.send(call.worker, { t: "host-result", id: call.id, req, result: hostResultToWire(request.op, result) });
  }

  /**
   * A worker died. A crash is charged to the call that caused it, never to its neighbours (issue: one tool got an
   * unrelated tool quarantined by making the watchdog kill their shared worker):
   * - the culprit (the call it was killed for, or whose isolate V8 lost) ends E_SANDBOX_CRASHED;
   * - neighbours that had not started are retried on another worker — they never ran, so nothing repeats;
   * - neighbours that were running end E_SANDBOX_CRASHED marked `collateral` (not counted against their tool).
   * Without a known culprit (killed from outside, V8 abort without a fault report), a call that ran alone is
   * charged; when several were running nobody can tell which one did it, so none is charged.
   */
  private onWorkerExit(worker: WorkerHandle, inflight: number[]): void {
    const culprit = this.culprits.get(worker);
    const calls: ActiveCall[] = [];
    for (const id of inflight) {
      clearTimeout(this.watchdogs.get(id));
      this.watchdogs.delete(id);
      const call = this.calls.get(id);
      if (call && call.worker === worker) calls.push(call);
    }
    if (this.closed) return;
    const running = calls.filter((c) => !c.queued);
    for (const call of calls) {
      const name = call.request.tool.name;
      if (call.id === culprit || (culprit === undefined && running.length === 1 && running[0] === call)) {
        const fault = this.faults.get(worker);
        const why = call.held
          ? `${name} ran past its timeout in an operation that could not be interrupted; its isolate worker was killed`
          : fault !== undefined
            ? `${name} crashed its isolate worker (V8: ${fault}); the call did not finish`
            : `the isolate worker running ${name} crashed; the call did not finish`;
        this.settle(call, failure("E_SANDBOX_CRASHED", why));
      } else if (call.queued && !call.held) {
        void this.dispatch(call); // never started: run it on a fresh worker
      } else if (call.held) {
        this.settle(call, { ok: false, error: call.held });
      } else {
        this.settle(call, {
          ok: false,
          error: { code: "E_SANDBOX_CRASHED", message: `the isolate worker running ${name} was stopped because of another call on it; this call did not finish` },
          collateral: true,
        });
      }
    }
  }
}

function sourceKey(tool: IsolateSandboxTool): string {
  return `${wireKey(tool)}\0${tool.entry ?? ""}`;
}

function outputOutcome(tool: SandboxTool, json: string): ExecuteOutcome {
  // The worker sends the output as JSON text: its size is measured on that text, and an oversized one is never parsed.
  const outputBytes = Buffer.byteLength(json, "utf8");
  if (outputBytes > tool.limits.outputBytes) return boundedOutput(tool.name, undefined, tool.limits.outputBytes, outputBytes);
  try {
    return { ok: true, output: JSON.parse(json), outputBytes };
  } catch {
    return failure("E_TOOL_FAILED", `${tool.name} returned text that is not JSON`);
  }
}

function toPayload(err: unknown): ErrorPayload {
  if (err instanceof WardenError) return err.toPayload();
  return { code: "E_TOOL_FAILED", message: "the host could not complete the request" };
}

/** The broker's log/progress sinks are not allowed to break the call. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch {
    // deliberately ignored: a failing notification sink must not fail the tool call
  }
}
