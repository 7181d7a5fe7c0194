import type { FsOperation, LogThreshold, ToolHost, ToolLogLevel } from "../../sandboxes/executor.js";
import { createEgressFetch, EgressRecordBound } from "../capabilities/network/index.js";
import { createVolumeFs } from "../capabilities/filesystem/index.js";
import { redactText } from "../capabilities/redaction.js";
import type { EgressRecord, FileRecord } from "../capabilities/types.js";
import type { CallJournal } from "../journal/index.js";
import type { RegisteredTool } from "./registry.js";

export interface CallSinks {
  /** The client's logging level when the call started; lines below it are not delivered (the sandbox may drop them). */
  logLevel?: LogThreshold;
  log?(level: ToolLogLevel, message: string): void;
  progress?(done: number, total?: number): void;
}

const DENIED = (what: string, tool: string, how: string) => ({
  ok: false as const,
  error: { code: "E_CAPABILITY_DENIED" as const, message: `${what}: ${tool} has no ${what} capability; ${how}` },
});

/**
 * The host side of one call: ctx.fetch and ctx.fs go through the capability
 * checks of capabilities/, every attempt is recorded for the audit record, and
 * log lines are scrubbed of secret values before they leave.
 */
export function createToolHost(tool: RegisteredTool, signal: AbortSignal, sinks: CallSinks, secretValues: readonly string[], journal?: CallJournal) {
  const egress: EgressRecord[] = [];
  // At most EGRESS_RECORDS_MAX records per call plus one summary: a fetch loop must not grow the audit line.
  const bound = new EgressRecordBound();
  const recordEgress = (r: EgressRecord): void => {
    const kept = bound.admit(r);
    if (kept) egress.push(kept);
  };
  const files: FileRecord[] = [];
  const caps = tool.capabilities;
  const fetchImpl =
    caps.network.length > 0
      ? createEgressFetch({
          tool: tool.name,
          grants: caps.network,
          maxResponseBytes: Math.max(tool.limits.outputBytes * 4, 8 * 1024 * 1024),
          onEgress: recordEgress,
        })
      : null;
  const fsImpl =
    caps.filesystem.length > 0
      ? createVolumeFs({
          tool: tool.name,
          volumes: caps.filesystem,
          onFileOp: (r) => files.push(r),
          // SPEC §14: the pre-image of every change is journaled (and fsync'd) before the change happens.
          ...(journal ? { beforeMutation: journal.beforeMutation } : {}),
        })
      : null;

  const host: ToolHost = {
    ...(sinks.logLevel !== undefined ? { logLevel: sinks.logLevel } : {}),
    log(level, message) {
      sinks.log?.(level, redactText(message, secretValues));
    },
    progress(done, total) {
      sinks.progress?.(done, total);
    },
    async fetch(request) {
      if (!fetchImpl) {
        recordEgress({ host: safeHost(request.url), port: 0, method: request.method ?? "GET", status: null, bytes: 0, denied: "no network capability" });
        return DENIED("network", tool.name, "declare capabilities.network.allow in its manifest and have the operator grant and approve it");
      }
      return fetchImpl(request, signal);
    },
    async fs(operation: FsOperation) {
      if (!fsImpl) {
        files.push({ volume: "", path: String(operation.path).slice(0, 256), op: operation.op, denied: "no filesystem capability" });
        return DENIED("filesystem", tool.name, "declare capabilities.filesystem in its manifest and have the operator map and grant the volume");
      }
      // The journal records what each change left (post-image) before the result returns to the tool.
      return journal ? journal.around(() => fsImpl(operation, signal)) : fsImpl(operation, signal);
    },
    // The backend's own egress path (the container egress proxy): the same per-call bound as ctx.fetch's records.
    // A cancelled call's last records (its tunnels closed at unbind) still arrive before execute resolves.
    recordEgress(record) {
      recordEgress(record);
    },
  };
  return { host, egress, files };
}

function safeHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "(invalid url)";
  }
}
