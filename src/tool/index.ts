/**
 * Types for tool authors (SPEC §3): `import type { ToolContext } from "mcp-warden/tool"`.
 * Types only — nothing here exists at runtime; inside the isolate `ctx` is
 * built by the sandbox bridge (sandboxes/isolate) and relays every request to
 * the broker, which checks it against the tool's granted capabilities.
 */
import type { Manifest } from "../manifest/schema.js";

/** The manifest.json shape, for authors who generate or check manifests in TypeScript. */
export type ToolManifest = Manifest;

export type ToolLogLevel = "debug" | "info" | "warning" | "error";

export interface ToolFetchInit {
  /** Default "GET". */
  method?: string;
  headers?: Record<string, string>;
  /** UTF-8 text or bytes. */
  body?: string | Uint8Array;
}

/** What `ctx.fetch` resolves to. The body was read (and size-bounded) by the host. */
export interface ToolFetchResponse {
  status: number;
  /** status is 200-299. */
  ok: boolean;
  statusText: string;
  /** Final URL after redirects (each hop re-checked against the allowlist). */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface ToolFsStat {
  type: "file" | "directory" | "symlink" | "other";
  size: number;
  mode: number;
  mtimeMs: number;
}

/**
 * Files on granted volumes. Paths are `/mnt/<volume>/...`; anything outside a
 * granted volume, `..` escapes and links out are refused; writes need a
 * `read-write` grant.
 */
export interface ToolFs {
  readFile(path: string, encoding: "utf8" | "utf-8"): Promise<string>;
  readFile(path: string, encoding?: undefined): Promise<Uint8Array>;
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<ToolFsStat>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  rm(path: string, options?: { recursive?: boolean }): Promise<void>;
}

/** A refused or failed host request rejects with this; `code` is a stable warden error code (SPEC §9). */
export interface ToolHostError extends Error {
  code: string;
}

/** Cancellation state of the call. After cancel or timeout the isolate is disposed: nothing after that has effect. */
export interface ToolSignal {
  /** Always false while the tool can observe it: cancellation disposes the isolate at once. */
  readonly aborted: boolean;
  readonly reason: unknown;
}

/** The tool's whole world during one call. */
export interface ToolContext {
  /** HTTP(S) to granted hosts only; public addresses only unless the operator allowed a private one. */
  fetch(url: string, init?: ToolFetchInit): Promise<ToolFetchResponse>;
  fs: ToolFs;
  /** Granted secrets only; a name not granted is absent. */
  env: Readonly<Record<string, string | undefined>>;
  /** Structured log + MCP logging notification. */
  log(level: ToolLogLevel, message: string): void;
  /** MCP progress notification when the client asked for progress. */
  progress(done: number, total?: number): void;
  signal: ToolSignal;
}

/** The default export of an isolate tool's entry module. */
export type ToolRun<Input = unknown, Output = unknown> = (input: Input, ctx: ToolContext) => Output | Promise<Output>;
