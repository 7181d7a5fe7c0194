/**
 * The one interface every sandbox backend implements (isolate, container, mcp-server; sandboxes/README.md).
 * The broker owns policy, validation, redaction and audit; a backend only runs
 * code under budgets and relays the tool's requests to the host (`ToolHost`).
 *
 * Contract for every backend (test/contract/ checks it):
 * - `execute` never rejects: every failure is an `ExecuteOutcome` with a code.
 * - Deadline: `limits.timeoutMs` of wall clock from the start of `execute`,
 *   including time the tool spends awaiting host calls → `E_TIMEOUT`.
 * - Memory past `limits.memoryMb` → `E_MEMORY`; output whose UTF-8 JSON is
 *   larger than `limits.outputBytes` → `E_OUTPUT_TOO_LARGE`.
 * - `signal` aborted → the sandbox is stopped at once and the outcome is
 *   `E_CANCELLED` (or the code of `signal.reason` when it is a WardenError).
 * - A tool that throws → `E_TOOL_FAILED` with the tool's message; a sandbox
 *   that dies → `E_SANDBOX_CRASHED`; a backend that cannot run at all →
 *   `E_SANDBOX_UNAVAILABLE`. The backend stays usable for the next call.
 * - Nothing the tool does after the outcome has any effect (host calls made
 *   after it are refused).
 * - A failure is charged to the call that caused it: a call whose sandbox died
 *   because of ANOTHER call ends with `collateral: true` (the broker does not
 *   count it for quarantine); a call that cannot be stopped at its deadline and
 *   takes its sandbox down with it ends `E_SANDBOX_CRASHED` (isolate backend).
 */
import type { EgressRecord, NetworkGrant } from "../src/capabilities/types.js";
import type { ErrorPayload } from "../src/errors.js";
import type { Limits, RuntimeKind } from "../src/manifest/schema.js";
import type { ServerToolDefinition } from "../src/policy/pins.js";

/** Host functions exposed to tools never reject; they answer with this. */
export type HostResult<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

export type ToolLogLevel = "debug" | "info" | "warning" | "error";
/** The MCP logging levels, least severe first (RFC 5424 order, as the MCP spec lists them). */
export const LOG_THRESHOLDS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;
export type LogThreshold = (typeof LOG_THRESHOLDS)[number];

export interface FetchRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** Request body: UTF-8 text, or bytes. */
  body?: string | Uint8Array;
}

export interface FetchResponse {
  status: number;
  statusText: string;
  /** Final URL after redirects. */
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export type FsOperation =
  | { op: "readFile"; path: string; encoding?: "utf8" }
  | { op: "writeFile"; path: string; data: string | Uint8Array }
  | { op: "readdir"; path: string }
  | { op: "stat"; path: string }
  | { op: "mkdir"; path: string; recursive?: boolean }
  | { op: "rm"; path: string; recursive?: boolean };

/** Result values of fs operations, by op. */
export interface FsStat {
  type: "file" | "directory" | "symlink" | "other";
  size: number;
  mode: number;
  mtimeMs: number;
}

/** What a sandbox may ask the broker for, on the tool's behalf, during one call. */
export interface ToolHost {
  /**
   * The least severe MCP logging level the client asked for (logging/setLevel) when the call started: lines below
   * it are dropped by the host anyway, so a sandbox may drop them before they cost an IPC message (#14).
   */
  readonly logLevel?: LogThreshold;
  log(level: ToolLogLevel, message: string): void;
  progress(done: number, total?: number): void;
  fetch(request: FetchRequest): Promise<HostResult<FetchResponse>>;
  fs(operation: FsOperation): Promise<HostResult<string | Uint8Array | string[] | FsStat | null>>;
  /**
   * An exchange the backend's own egress path saw (the container egress proxy), refused ones too: it joins
   * the call's audit record. A backend delivers a call's records before its `execute` resolves (what arrives
   * later cannot reach the record, which is written then).
   */
  recordEgress(record: EgressRecord): void;
}

export interface VolumeMount {
  volume: string;
  access: "read" | "read-write";
  /** Host directory (operator config). Only container backends bind-mount it. */
  hostPath: string;
}

/**
 * The unit a backend runs — code or image, command, limits, digest — one variant per runtime, told apart by
 * `runtime`. It is not the name a client calls: a hosted MCP server (one unit, one container) exposes many
 * tools, named per call by `ExecuteRequest.remote`.
 */
export type SandboxTool = IsolateSandboxTool | ContainerSandboxTool | McpServerSandboxTool;

/** The Docker-based units (sandboxes/docker builds their hardened container). */
export type DockerSandboxTool = ContainerSandboxTool | McpServerSandboxTool;

interface SandboxToolBase {
  name: string;
  version: string;
  digest: string;
  /** Absolute path of the tool folder. */
  dir: string;
  owner?: string;
  limits: Limits;
  /** Effective network access: container backends attach the egress proxy only when true. */
  network: boolean;
  volumes: VolumeMount[];
}

export interface IsolateSandboxTool extends SandboxToolBase {
  runtime: "isolate";
  /** Entry module path relative to `dir`. */
  entry?: string;
  /**
   * The text of every .js/.mjs/.json file of the tool folder by relative POSIX path, from the very bytes the
   * digest was computed over (manifest loading). The backend runs these and never reads `dir` again: a file
   * swapped on disk after hashing (time of check ≠ time of use) must not run under the approval.
   */
  modules?: Readonly<Record<string, string>>;
}

interface DockerSandboxToolBase extends SandboxToolBase {
  /** Image reference (tag) as the manifest names it. */
  image: string;
  /** The image ID the approval is bound to; every container start checks the tag still names it. */
  imageId?: string;
  command?: string[];
}

export interface ContainerSandboxTool extends DockerSandboxToolBase {
  runtime: "container";
}

export interface McpServerSandboxTool extends DockerSandboxToolBase {
  runtime: "mcp-server";
  /** One container per MCP session (default) or per call (SPEC §15). */
  lifecycle?: "session" | "call";
}

/** mcp-server: which tool of the hosted server a call is for, and the pin it was approved with. */
export interface RemoteTool {
  /** The tool's name as the server lists it (without warden's toolPrefix). */
  name: string;
  /** sha256 of its canonical definition at approval (src/policy/pins.ts). */
  sha256: string;
}

export interface ExecuteRequest {
  callId: string;
  tool: SandboxTool;
  /** mcp-server only. */
  remote?: RemoteTool;
  /** The MCP session the call belongs to ("stdio", or the HTTP session id): session-lifecycle servers are per session. */
  session?: string;
  /** Who calls (token name or "stdio"): backends that keep sandboxes per session bound them per identity. */
  actor?: string;
  input: unknown;
  /** Granted secrets only (name → value). */
  env: Record<string, string>;
  /**
   * The tool's effective network grants at admission (manifest ∩ operator grant). Backends whose egress
   * is not `host.fetch` (the container egress proxy) check every exchange against these, with the same
   * rule as ctx.fetch; absent or empty refuses all.
   */
  network?: readonly NetworkGrant[];
  host: ToolHost;
  signal: AbortSignal;
}

/**
 * `content`: MCP content blocks a hosted server returned (text, image, audio,
 * resource, resource_link), forwarded as they are; `output` is then the
 * server's structuredContent (or undefined). Other backends set `output` only.
 */
export type ExecuteOutcome =
  | { ok: true; output: unknown; outputBytes: number; content?: ContentBlock[] }
  | {
      ok: false;
      error: ErrorPayload;
      /**
       * The sandbox failed because of ANOTHER call (e.g. a neighbour's crash took the shared worker down): not this
       * tool's fault, so it is never counted against it (auto-quarantine). Absent: the failure is this call's own.
       */
      collateral?: true;
    };

/** An MCP content block, as forwarded from a hosted server (shape checked by the backend). */
export type ContentBlock = { type: "text" | "image" | "audio" | "resource" | "resource_link"; [key: string]: unknown };

export interface Executor {
  readonly runtime: RuntimeKind;
  /** Resolves when the backend can start a call without paying its own start-up (optional). */
  ready?(): Promise<void>;
  /**
   * Makes the next calls of this tool cheap (pre-warm). `env` is the tool's granted secrets as of now (a warm
   * container's env is fixed when it is created). Idempotent; never throws.
   */
  prepare(tool: SandboxTool, env?: Record<string, string>): Promise<void>;
  execute(request: ExecuteRequest): Promise<ExecuteOutcome>;
  /**
   * A hosted server listed its tools (at start, or after `list_changed`): the broker compares them with the
   * pins (drift). Optional; the broker subscribes once, when it is built.
   */
  onDefinitions?(listener: (tool: SandboxTool, definitions: ServerToolDefinition[]) => void): void;
  /** The MCP session ended (client gone, idle): stop what was kept for it. Optional; never throws. */
  endSession?(session: string): Promise<void>;
  /** Stops every sandbox; pending calls end with E_CANCELLED. */
  close(): Promise<void>;
}
