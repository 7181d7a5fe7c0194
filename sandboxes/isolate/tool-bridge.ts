/**
 * Worker side of ctx.fetch / ctx.fs / ctx.log / ctx.progress. Everything here
 * arrives from untrusted tool code, so it is re-checked: the shape of a host
 * request, the size and rate of log lines (a tool flooding ctx.log must not
 * flood the broker), and whether the call is still running (after the outcome,
 * nothing the tool does has any effect).
 */
import type { ErrorPayload } from "../../src/errors.js";
import type { FetchRequest, HostResult, ToolLogLevel } from "../executor.js";
import type { CallBinding, SlotHost } from "./isolate-slot.js";
import type { FromWorker, HostRequest } from "./protocol.js";
import { hostRequestToWire, hostResultFromWire } from "./wire-bytes.js";

export const MAX_NOTIFICATIONS_PER_CALL = 1000;
export const MAX_LOG_MESSAGE_CHARS = 8192;
/** A tool firing thousands of ctx.fetch at once must not turn the broker into its amplifier. */
export const MAX_HOST_REQUESTS_IN_FLIGHT = 32;
const LOG_LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warning", "error"]);
const FS_OPS: ReadonlySet<string> = new Set(["readFile", "writeFile", "readdir", "stat", "mkdir", "rm"]);

const ENDED: HostResult<never> = { ok: false, error: { code: "E_CANCELLED", message: "the call has ended; host calls after it are refused" } };

export class ToolBridge implements SlotHost {
  private nextReq = 0;
  private readonly pending = new Map<number, { id: number; op: HostRequest["op"]; resolve: (result: HostResult<unknown>) => void }>();
  private readonly notifications = new Map<number, number>();
  /** A finished call waiting for its last notifications (see whenReceived). */
  private readonly waiters = new Map<number, { count: number; wake: () => void }>();

  constructor(private readonly send: (message: FromWorker) => void) {}

  hostRequest(binding: CallBinding, raw: unknown): Promise<HostResult<unknown>> {
    const id = binding.id;
    if (id === 0) return Promise.resolve(ENDED);
    const request = checkHostRequest(raw);
    if ("code" in request) return Promise.resolve({ ok: false, error: request });
    let inFlight = 0;
    for (const pending of this.pending.values()) if (pending.id === id) inFlight += 1;
    if (inFlight >= MAX_HOST_REQUESTS_IN_FLIGHT)
      return Promise.resolve({ ok: false, error: { code: "E_BUSY", message: `more than ${MAX_HOST_REQUESTS_IN_FLIGHT} host calls in flight; await some before starting more` } });
    const req = ++this.nextReq;
    return new Promise((resolve) => {
      this.pending.set(req, { id, op: request.op, resolve });
      this.send({ t: "host", id, req, request: hostRequestToWire(request) });
    });
  }

  hostResult(req: number, result: HostResult<unknown>): void {
    const pending = this.pending.get(req);
    this.pending.delete(req);
    pending?.resolve(hostResultFromWire(pending.op, result));
  }

  notify(binding: CallBinding, kind: unknown, a: unknown, b: unknown): void {
    const id = binding.id;
    if (id === 0) return;
    const count = (this.notifications.get(id) ?? 0) + 1;
    this.notifications.set(id, count);
    const waiter = this.waiters.get(id);
    // After this notification's own send below (a microtask later), so the result never overtakes it.
    if (waiter && count >= waiter.count) queueMicrotask(waiter.wake);
    if (count > MAX_NOTIFICATIONS_PER_CALL) {
      if (count === MAX_NOTIFICATIONS_PER_CALL + 1)
        this.send({ t: "log", id, level: "warning", message: `further log/progress lines of this call dropped (limit ${MAX_NOTIFICATIONS_PER_CALL})` });
      return;
    }
    if (kind === "log") {
      const level = (LOG_LEVELS.has(String(a)) ? String(a) : "info") as ToolLogLevel;
      const text = String(b);
      const message = text.length > MAX_LOG_MESSAGE_CHARS ? `${text.slice(0, MAX_LOG_MESSAGE_CHARS)}…` : text;
      this.send({ t: "log", id, level, message });
    } else if (kind === "progress" && Number.isFinite(a)) {
      const total = Number.isFinite(b) ? (b as number) : undefined;
      this.send({ t: "progress", id, done: a as number, ...(total === undefined ? {} : { total }) });
    }
  }

  /**
   * Resolves once `count` notifications of this call have reached this thread, or after `ms` (a tool can claim
   * any count). Woken by notify() itself instead of polling with setImmediate (#14).
   */
  whenReceived(id: number, count: number, ms: number): Promise<void> {
    if (this.received(id) >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        if (this.waiters.get(id)?.wake === wake) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.set(id, { count, wake });
    });
  }

  /** How many ctx.log/ctx.progress notifications of this call reached this thread so far. */
  received(id: number): number {
    return this.notifications.get(id) ?? 0;
  }

  /** The call is over: its pending host answers are dropped (the promise inside the isolate never settles). */
  endCall(id: number): void {
    this.notifications.delete(id);
    for (const [req, pending] of this.pending) if (pending.id === id) this.pending.delete(req);
  }
}

function refusal(message: string): ErrorPayload {
  return { code: "E_TOOL_FAILED", message };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return value !== null && typeof value === "object" && Object.values(value).every((v) => typeof v === "string");
}

const isData = (v: unknown): v is string | Uint8Array => typeof v === "string" || v instanceof Uint8Array;

function checkHostRequest(raw: unknown): HostRequest | ErrorPayload {
  const r = raw as { op?: unknown; request?: Record<string, unknown>; operation?: Record<string, unknown> } | null;
  if (r?.op === "fetch" && r.request && typeof r.request === "object") {
    const { url, method, headers, body } = r.request;
    if (typeof url !== "string") return refusal("ctx.fetch: url must be a string");
    if (method !== undefined && typeof method !== "string") return refusal("ctx.fetch: method must be a string");
    if (headers !== undefined && !isStringRecord(headers)) return refusal("ctx.fetch: headers must map names to strings");
    if (body !== undefined && !isData(body)) return refusal("ctx.fetch: body must be a string or bytes");
    const request: FetchRequest = { url };
    if (method !== undefined) request.method = method;
    if (headers !== undefined) request.headers = headers;
    if (body !== undefined) request.body = body;
    return { op: "fetch", request };
  }
  if (r?.op === "fs" && r.operation && typeof r.operation === "object") {
    const o = r.operation;
    if (typeof o.op !== "string" || !FS_OPS.has(o.op)) return refusal("ctx.fs: unknown operation");
    if (typeof o.path !== "string") return refusal(`ctx.fs.${o.op}: path must be a string`);
    if (o.op === "writeFile" && !isData(o.data)) return refusal("ctx.fs.writeFile: data must be a string or bytes");
    const operation = { op: o.op, path: o.path } as Record<string, unknown>;
    if (o.op === "readFile" && o.encoding === "utf8") operation.encoding = "utf8";
    if (o.op === "writeFile") operation.data = o.data;
    if ((o.op === "mkdir" || o.op === "rm") && o.recursive === true) operation.recursive = true;
    return { op: "fs", operation } as HostRequest;
  }
  return refusal("unknown host request");
}
