/**
 * A real Broker (registry, lock, config from a workspace) with a fake executor
 * and an in-memory audit log: the pipeline and the MCP layer above it can be
 * tested without sandboxes or child processes.
 */
import type { AuditEntry, AuditLog, AuditRecord } from "../../src/audit/index.js";
import { Broker, loadRegistry } from "../../src/broker/index.js";
import { loadConfigFile } from "../../src/config/load.js";
import { createLogger } from "../../src/logger.js";
import { lockPathFor, readLock } from "../../src/policy/lock.js";
import type { ExecuteOutcome, ExecuteRequest, Executor } from "../../sandboxes/executor.js";
import { approveAll, makeWorkspace, type ToolSpec } from "./workspace.js";

export class MemoryAudit implements AuditLog {
  readonly records: AuditEntry[] = [];
  fail = false;
  lastHash = "";
  nextSeq = 1;
  async append(entry: AuditEntry): Promise<AuditRecord> {
    if (this.fail) throw new Error("disk full");
    this.records.push(structuredClone(entry));
    return { ...entry, seq: this.nextSeq++, prev: "", hash: "" };
  }
  async close(): Promise<void> {}
}

export class FakeExecutor implements Executor {
  readonly runtime = "isolate" as const;
  readonly requests: ExecuteRequest[] = [];
  next: (req: ExecuteRequest) => Promise<ExecuteOutcome> = async (req) => ({ ok: true, output: { echo: req.input }, outputBytes: 10 });
  async prepare(): Promise<void> {}
  async execute(req: ExecuteRequest): Promise<ExecuteOutcome> {
    this.requests.push(req);
    return this.next(req);
  }
  async close(): Promise<void> {}
}

export async function fakeBroker(tools: Record<string, ToolSpec>, config: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env) {
  const ws = makeWorkspace({ tools, config });
  await approveAll(ws);
  const loaded = await loadConfigFile(ws.configPath);
  const registry = await loadRegistry(loaded, env);
  const lock = await readLock(lockPathFor(loaded.file));
  const executor = new FakeExecutor();
  const audit = new MemoryAudit();
  const logger = createLogger({ level: "silent" });
  const broker = new Broker({ config: loaded.config, registry, lock, executors: { isolate: executor }, audit, logger });
  return { ws, env, loaded, broker, executor, audit, logger };
}
