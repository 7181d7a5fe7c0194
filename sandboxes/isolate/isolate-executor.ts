/**
 * The broker side of the isolate backend: owns each call's deadline and
 * cancellation (answered here at once, then the worker disposes the isolate),
 * relays ctx.fetch/ctx.fs/ctx.log to the broker's ToolHost only while the call
 * is running, and turns the tool's JSON text into the outcome.
 */
import { Buffer } from "node:buffer";
import { WardenError, type ErrorPayload } from "../../src/errors.js";
import type { Logger } from "../../src/logger.js";
import type { ExecuteOutcome, ExecuteRequest, Executor, HostResult, SandboxTool } from "../executor.js";
import type { FromWorker, HostRequest, WireTool } from "./protocol.js";
import { wireKey, wireToolOf } from "./tool-source.js";
import { hostRequestFromWire, hostResultToWire } from "./wire-bytes.js";
import { WorkerPool, type WorkerHandle } from "./worker-pool.js";

/** A worker that has not torn down an aborted call by then is stuck (e.g. its main thread); it is killed. */
const ABORT_GRACE_MS = 2_000;

export interface IsolateExecutorOptions {
  /** Worker processes (default 2). */
  workers?: number;
  /** Isolates per worker, i.e. calls a worker runs at once (default 2); more calls wait in the worker. */
  isolatesPerWorker?: number;
  logger?: Logger;
}

interface ActiveCall {
  id: number;
  worker: WorkerHandle;
  request: ExecuteRequest;
  resolve(outcome: ExecuteOutcome): void;
  timer: NodeJS.Timeout;
  onAbort(): void;
}

const failure = (code: ErrorPayload["code"], message: string): ExecuteOutcome => ({ ok: false, error: { code, message } });

export class IsolateExecutor implements Executor {
  readonly runtime = "isolate" as const;
  private readonly pool: WorkerPool;
  private readonly calls = new Map<number, ActiveCall>();
  private readonly watchdogs = new Map<number, NodeJS.Timeout>();
  private readonly loaded = new Map<string, WireTool>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: IsolateExecutorOptions = {}) {
    this.pool = new WorkerPool(options.workers ?? 2, options.isolatesPerWorker ?? 2, {
      message: (worker, message) => this.onMessage(worker, message),
      exit: (_worker, inflight) => this.onWorkerExit(inflight),
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
    if (signal.aborted) return { ok: false, error: abortReason(signal) };
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
    if (signal.aborted) return { ok: false, error: abortReason(signal) };
    let worker = this.pool.pick();
    if (!worker) {
      // Every worker is down and backing off: wait for one, within this call's own deadline.
      const waitMs = Math.max(0, tool.limits.timeoutMs - (Date.now() - startedAt));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.pool.whenAvailable(), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
      if (signal.aborted) return { ok: false, error: abortReason(signal) };
      worker = this.closed ? undefined : this.pool.pick();
      if (!worker) return failure("E_SANDBOX_UNAVAILABLE", "no isolate worker is running; workers keep failing to start");
    }
    return new Promise<ExecuteOutcome>((resolve) => {
      const id = ++this.nextId;
      const remaining = Math.max(0, tool.limits.timeoutMs - (Date.now() - startedAt));
      const call: ActiveCall = {
        id,
        worker,
        request,
        resolve,
        timer: setTimeout(() => this.stop(call, { code: "E_TIMEOUT", message: `${tool.name} ran longer than its timeout of ${tool.limits.timeoutMs} ms` }), remaining),
        onAbort: () => this.stop(call, abortReason(signal)),
      };
      signal.addEventListener("abort", call.onAbort, { once: true });
      this.calls.set(id, call);
      worker.inflight.add(id);
      const firstTime = !worker.knownTools.has(wire.key);
      worker.knownTools.add(wire.key);
      this.pool.send(worker, { t: "call", id, key: wire.key, ...(firstTime ? { tool: wire } : {}), input, env });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const call of [...this.calls.values()]) this.settle(call, failure("E_CANCELLED", "the isolate executor was closed"));
    for (const timer of this.watchdogs.values()) clearTimeout(timer);
    this.watchdogs.clear();
    this.pool.close();
  }

  /** The tool's hashed module texts, shaped for the workers once per (name, digest, limits, entry). */
  private wireTool(tool: SandboxTool): WireTool {
    const key = sourceKey(tool);
    let wire = this.loaded.get(key);
    if (!wire) {
      wire = wireToolOf(tool);
      this.loaded.set(key, wire);
    }
    return wire;
  }

  private settle(call: ActiveCall, outcome: ExecuteOutcome): boolean {
    if (this.calls.get(call.id) !== call) return false;
    this.calls.delete(call.id);
    clearTimeout(call.timer);
    call.request.signal.removeEventListener("abort", call.onAbort);
    call.resolve(outcome);
    return true;
  }

  /** Timeout or cancel: answer now, then make the worker dispose the isolate (and kill the worker if it cannot). */
  private stop(call: ActiveCall, error: ErrorPayload): void {
    if (!this.settle(call, { ok: false, error })) return;
    const { worker, id } = call;
    if (!worker.inflight.has(id)) return;
    this.pool.send(worker, { t: "abort", id });
    const watchdog = setTimeout(() => {
      this.watchdogs.delete(id);
      if (worker.inflight.has(id)) {
        this.options.logger?.warn({ callId: call.request.callId }, "isolate worker did not stop a call in time; killing it");
        this.pool.kill(worker);
      }
    }, ABORT_GRACE_MS);
    watchdog.unref();
    this.watchdogs.set(id, watchdog);
  }

  private onMessage(worker: WorkerHandle, message: FromWorker): void {
    if (message.t === "ready") return;
    const call = this.calls.get(message.id);
    switch (message.t) {
      case "done":
        worker.inflight.delete(message.id);
        clearTimeout(this.watchdogs.get(message.id));
        this.watchdogs.delete(message.id);
        if (call) this.settle(call, message.ok ? outputOutcome(call.request.tool, message.json) : { ok: false, error: message.error });
        return;
      case "host":
        // A host request for a call that has ended is dropped: it must have no effect.
        if (call) void this.relayHost(call, message.req, message.request);
        return;
      case "log":
        if (call) guard(() => call.request.host.log(message.level, message.message));
        return;
      case "progress":
        if (call) guard(() => call.request.host.progress(message.done, message.total));
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
    if (this.calls.get(call.id) === call)
      this.pool.send(call.worker, { t: "host-result", id: call.id, req, result: hostResultToWire(request.op, result) });
  }

  private onWorkerExit(inflight: number[]): void {
    for (const id of inflight) {
      clearTimeout(this.watchdogs.get(id));
      this.watchdogs.delete(id);
      const call = this.calls.get(id);
      if (call) this.settle(call, failure("E_SANDBOX_CRASHED", `the isolate worker running ${call.request.tool.name} crashed; the call did not finish`));
    }
  }
}

function sourceKey(tool: SandboxTool): string {
  return `${wireKey(tool)}\0${tool.entry ?? ""}`;
}

function outputOutcome(tool: SandboxTool, json: string): ExecuteOutcome {
  const outputBytes = Buffer.byteLength(json, "utf8");
  if (outputBytes > tool.limits.outputBytes)
    return failure("E_OUTPUT_TOO_LARGE", `${tool.name} returned ${outputBytes} bytes of JSON; its limit is ${tool.limits.outputBytes}`);
  try {
    return { ok: true, output: JSON.parse(json), outputBytes };
  } catch {
    return failure("E_TOOL_FAILED", `${tool.name} returned text that is not JSON`);
  }
}

function abortReason(signal: AbortSignal): ErrorPayload {
  const reason: unknown = signal.reason;
  if (reason instanceof WardenError) return reason.toPayload();
  return { code: "E_CANCELLED", message: "the call was cancelled" };
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
