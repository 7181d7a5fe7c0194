/**
 * The IPC messages between the broker process and an isolate worker process.
 * One message per call each way on the hot path ("call" → "done"); host
 * requests and notifications only when the tool uses ctx. JSON serialization
 * (faster than "advanced" here); bytes in host calls travel as base64 (wire-bytes.ts).
 */
import type { ErrorPayload } from "../../src/errors.js";
import type { FetchRequest, FsOperation, HostResult, ToolLogLevel } from "../executor.js";
import type { Limits } from "../../src/manifest/schema.js";
import type { WorkerTimings } from "./timings.js";

/** A tool as a worker sees it: the module sources the broker loaded, never a path to read. */
export interface WireTool {
  /** name, digest and limits: a worker keeps isolates per key (memoryLimit is per isolate). */
  key: string;
  name: string;
  /** Entry module, relative to the tool folder (posix separators). */
  entry: string;
  /** Relative path → source of every module file in the tool folder. */
  modules: Record<string, string>;
  limits: Limits;
}

export type ToWorker =
  | { t: "prepare"; tool: WireTool }
  /** `tool` is sent only the first time this worker sees the key. */
  /** `level`: the rank (LOG_THRESHOLDS index) below which ctx.log lines are dropped inside the isolate. */
  | { t: "call"; id: number; key: string; tool?: WireTool; input: string; env: string; level?: number }
  | { t: "abort"; id: number }
  | { t: "host-result"; id: number; req: number; result: HostResult<unknown> }
  /** Messages of one turn of the broker, in order (one IPC write). */
  | { t: "batch"; messages: ToWorker[] };

export type HostRequest = { op: "fetch"; request: FetchRequest } | { op: "fs"; operation: FsOperation };

export type FromWorker =
  /** isolated-vm is loaded: the worker can take calls without a cold start. */
  | { t: "ready" }
  /** `tm`: only with WARDEN_TIMINGS=1, durations inside the worker (timings.ts). */
  | { t: "done"; id: number; ok: true; json: string; notified?: number; tm?: WorkerTimings }
  /** `verdict`: the tool's module top level failed; the same digest fails the same way (the broker caches it). */
  | { t: "done"; id: number; ok: false; error: ErrorPayload; verdict?: true; tm?: WorkerTimings }
  /** The call waits in the worker (no free isolate): it has not started, so it may be retried elsewhere. */
  | { t: "queued"; id: number }
  /** A call announced as queued has started to run. */
  | { t: "started"; id: number }
  /** V8 lost control of the isolate running call `id` (0: no call), e.g. a catastrophic out-of-memory; the worker exits right after. */
  | { t: "fault"; id: number; key: string; message: string }
  | { t: "host"; id: number; req: number; request: HostRequest }
  | { t: "log"; id: number; level: ToolLogLevel; message: string }
  /** Messages sent in one turn of the worker's thread, in order (one IPC write). */
  | { t: "batch"; messages: FromWorker[] }
  | { t: "progress"; id: number; done: number; total?: number };
