/** Writes an isolate tool's module files into a fresh temp folder and describes it as a SandboxTool. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ExecuteRequest, Executor, IsolateSandboxTool, SandboxTool, ToolHost } from "../../../sandboxes/executor.js";
import { LIMIT_DEFAULTS, type Limits } from "../../../src/manifest/schema.js";

let toolSeq = 0;
const tempDirs: string[] = [];
process.on("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export function toolInTempDir(files: string | Record<string, string>, limits: Partial<Limits> = {}): IsolateSandboxTool {
  const dir = mkdtempSync(join(tmpdir(), "warden-iso-tool-"));
  tempDirs.push(dir);
  const sources = typeof files === "string" ? { "index.js": files } : files;
  for (const [path, source] of Object.entries(sources)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  const n = ++toolSeq;
  return {
    name: `temp_tool_${n}`,
    version: "1.0.0",
    digest: `temp-${process.pid}-${n}`,
    runtime: "isolate",
    dir,
    entry: "index.js",
    // As manifest loading does: the backend runs these texts (the ones hashed), never the files on disk.
    modules: { ...sources },
    limits: { ...LIMIT_DEFAULTS, timeoutMs: 10_000, memoryMb: 32, outputBytes: 4096, ...limits },
    network: false,
    volumes: [],
  };
}

/** A ToolHost that records everything and answers with what the test gives it. */
export type RecordingHost = ToolHost & { logs: Array<[string, string]>; progressed: Array<[number, number | undefined]>; requests: unknown[] };

export function recordingHost(overrides: Partial<ToolHost> = {}): RecordingHost {
  const logs: Array<[string, string]> = [];
  const progressed: Array<[number, number | undefined]> = [];
  const requests: unknown[] = [];
  return {
    logs,
    progressed,
    requests,
    log: (level, message) => void logs.push([level, message]),
    progress: (done, total) => void progressed.push([done, total]),
    fetch: async (request) => (requests.push(request), { ok: false, error: { code: "E_CAPABILITY_DENIED", message: "network: no host granted" } }),
    fs: async (operation) => (requests.push(operation), { ok: false, error: { code: "E_CAPABILITY_DENIED", message: "filesystem: no volume granted" } }),
    recordEgress: () => {},
    ...overrides,
  };
}

let callSeq = 0;

export function runTool(executor: Executor, tool: SandboxTool, input: unknown = {}, extra: Partial<ExecuteRequest> = {}) {
  return executor.execute({
    callId: `iso-test-${++callSeq}`,
    tool,
    input,
    env: {},
    host: recordingHost(),
    signal: new AbortController().signal,
    ...extra,
  });
}

export const ECHO_SOURCE = "export default async function run(input) { return { echo: input }; }";

/**
 * An uninterruptible native operation: ~10 s of std::sort (TypedArray.prototype.sort) on this class of
 * machine, far longer than a 2.5 s timeout plus the 2 s abort grace. The fill is quick (~0.2 s, natively
 * doubled), so the deadline lands inside the sort even on a loaded machine. Needs memoryMb ≥ 300.
 */
export const NATIVE_STALL_SOURCE = `export default async function run() {
  const a = new Float64Array(${32 * 1024 * 1024});
  for (let i = 0; i < ${1 << 20}; i++) a[i] = Math.random();
  for (let n = ${1 << 20}; n < a.length; n *= 2) a.copyWithin(n, 0, Math.min(n, a.length - n));
  a.sort();
  return a.length;
}`;
export const NATIVE_STALL_TIMEOUT_MS = 1_000; // the sort takes ~4 s on a quiet core: far past the timeout + the 2 s grace, loaded or not
