import { createHash, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { WardenError, toWardenError, type ErrorPayload } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { AuditEntry, AuditLog } from "../audit/index.js";
import type { Journal } from "../journal/index.js";
import { redactKeys, redactSecretValues } from "../capabilities/redaction.js";
import type { Effect } from "../manifest/schema.js";
import type { EgressRecord } from "../capabilities/types.js";
import type { Executor, ExecuteOutcome, ToolLogLevel } from "../../sandboxes/executor.js";
import { Admission } from "./admission.js";
import type { Registry, RegisteredTool } from "./registry.js";
import { createToolHost } from "./tool-host.js";
import { isAllowedFor, isDisabled } from "./scope.js";
import { isApproved, type Lock } from "../policy/lock.js";
import type { Alerter } from "../incident/alerts.js";
import { QuarantineCounter } from "../incident/quarantine.js";
import { quarantineInConfig } from "../incident/quarantine-config.js";

export interface ConfirmationRequest {
  callId: string;
  tool: string;
  effect: Effect;
  /** Arguments as the human sees them: redacted like the audit record. */
  input: unknown;
}
export interface ConfirmationAnswer {
  accepted: boolean;
  by: string | null;
}

/** Who is calling and how to talk back to them, for one call. */
export interface CallContext {
  /** HTTP token name or "stdio" (SPEC §13). */
  actor: string;
  /** Tool names / effect classes this identity may use; undefined = everything enabled and approved. */
  allow?: readonly string[] | undefined;
  signal: AbortSignal;
  log?(level: ToolLogLevel, message: string): void;
  progress?(done: number, total?: number): void;
  /** Asks a human (MCP elicitation). Absent ⇒ the client cannot confirm ⇒ E_NOT_CONFIRMED. */
  confirm?(request: ConfirmationRequest): Promise<ConfirmationAnswer>;
}

export type CallResult =
  | { ok: true; callId: string; output: unknown }
  | { ok: false; callId: string; error: ErrorPayload };

export interface BrokerOptions {
  config: Config;
  registry: Registry;
  lock: Lock;
  executors: Partial<Record<"isolate" | "container", Executor>>;
  audit: AuditLog;
  logger: Logger;
  /** Owner escalation (SPEC §14); absent ⇒ alerts are only logged. */
  alerter?: Alerter;
  /** The config file: auto-quarantine writes the tool into its `disabled` list. */
  configFile?: string;
  /** Rollback journal for ctx.fs mutations (SPEC §14); absent ⇒ changes are not journaled. */
  journal?: Journal;
}

/**
 * The pipeline every call goes through, in this order:
 * find → kill switch → scope → validate input → confirm → admit → execute →
 * redact + check output → audit (fsync) → answer.
 * Every attempt, refused ones included, leaves exactly one audit record.
 */
export class Broker {
  private config: Config;
  private registry: Registry;
  private lock: Lock;
  private readonly admission: Admission;
  private auditFailure: WardenError | null = null;
  private readonly running = new Map<string, { tool: string; controller: AbortController; entry: AuditEntry }>();
  private readonly listeners = new Set<() => void>();
  private readonly quarantine: QuarantineCounter;

  constructor(private readonly options: BrokerOptions) {
    this.config = options.config;
    this.registry = options.registry;
    this.lock = options.lock;
    this.admission = new Admission(options.config.concurrency.maxInFlight, options.config.concurrency.maxQueue);
    this.quarantine = new QuarantineCounter(options.config.quarantine);
  }

  /** Tools this identity may see: approved, enabled and within its scope. */
  listTools(allow?: readonly string[]): RegisteredTool[] {
    return [...this.registry.tools.values()].filter((t) => this.isCallable(t) && isAllowedFor(t, allow));
  }

  /** Every tool with its state, for `warden list` and operators. */
  toolStates(): Array<{ tool: RegisteredTool; approved: boolean; disabled: boolean }> {
    return [...this.registry.tools.values()].map((tool) => ({
      tool,
      approved: isApproved(this.lock, tool.name, tool.sandbox.digest),
      disabled: isDisabled(tool, this.config.disabled),
    }));
  }

  private isCallable(t: RegisteredTool): boolean {
    return !isDisabled(t, this.config.disabled) && isApproved(this.lock, t.name, t.sandbox.digest);
  }

  /** Subscribes to changes of the callable tool set (sessions send tools/list_changed). */
  onToolsChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Live update (kill switch, approvals, tool folder changes): swaps the state,
   * cancels in-flight calls of tools that are no longer callable, and tells
   * every session when the list changed.
   */
  update(next: { config?: Config; registry?: Registry; lock?: Lock }): void {
    const before = this.callableSignature();
    if (next.registry) this.alertDrift(next.registry);
    if (next.config) {
      this.config = next.config;
      this.quarantine.setPolicy(next.config.quarantine);
    }
    if (next.registry) this.registry = next.registry;
    if (next.lock) this.lock = next.lock;
    for (const [callId, call] of this.running) {
      const tool = this.registry.tools.get(call.tool);
      if (!tool || !this.isCallable(tool)) {
        this.options.logger.warn({ callId, tool: call.tool }, "cancelling an in-flight call: its tool was disabled or lost its approval");
        call.controller.abort(new WardenError("E_CANCELLED", `${call.tool} was disabled by the operator while the call ran; the call was cancelled`));
      }
    }
    if (this.callableSignature() !== before) for (const l of this.listeners) l();
  }

  /** An approved tool whose files changed under a running server is worth a human's look. */
  private alertDrift(next: Registry): void {
    for (const [name, old] of this.registry.tools) {
      const now = next.tools.get(name);
      if (now && now.sandbox.digest !== old.sandbox.digest && isApproved(this.lock, name, old.sandbox.digest))
        this.options.alerter?.raise({ kind: "approved_tool_drift", tool: name, owner: old.sandbox.owner ?? null, reason: `the files of approved ${name}@${old.sandbox.version} changed (digest ${now.sandbox.digest}); its approval no longer applies` });
    }
  }

  /** Auto-quarantine: through the kill-switch path, persisted so only `warden enable` lifts it. */
  private async applyVerdict(tool: RegisteredTool, errorCode: string | null, callId: string): Promise<void> {
    if (errorCode === "E_SANDBOX_CRASHED")
      this.options.alerter?.raise({ kind: "sandbox_crash", tool: tool.name, owner: tool.sandbox.owner ?? null, reason: `the ${tool.sandbox.runtime} sandbox of ${tool.name} crashed`, callIds: [callId] });
    const verdict = this.quarantine.record(tool.name, errorCode, callId);
    if (!verdict) return;
    this.options.logger.error({ tool: tool.name, reason: verdict.reason }, "tool quarantined");
    this.update({ config: { ...this.config, disabled: [...new Set([...this.config.disabled, tool.name])] } });
    const ok = this.options.configFile ? await quarantineInConfig(this.options.configFile, tool.name) : false;
    this.options.alerter?.raise({
        kind: "quarantine",
        tool: tool.name,
        owner: tool.sandbox.owner ?? null,
        reason: `${verdict.reason}; ${tool.name} is disabled until an operator runs: warden enable ${tool.name}${ok ? "" : " (the config could not be written: the quarantine lasts until restart)"}`,
        counts: verdict.counts,
        callIds: verdict.callIds,
      });
  }

  private callableSignature(): string {
    return [...this.registry.tools.values()]
      .filter((t) => this.isCallable(t))
      .map((t) => `${t.name}@${t.sandbox.digest}:${t.effect}`)
      .sort()
      .join(",");
  }

  getTool(name: string): RegisteredTool | undefined {
    return this.registry.tools.get(name);
  }

  /** Pre-warms every sandbox so the first call does not pay for it. */
  async prepare(): Promise<void> {
    await Promise.all(
      [...this.registry.tools.values()].map((t) => this.options.executors[t.sandbox.runtime]?.prepare(t.sandbox)),
    );
  }

  async call(name: string, input: unknown, ctx: CallContext): Promise<CallResult> {
    const callId = randomUUID();
    // Fail closed: once the audit log cannot be written, nothing runs unaudited.
    if (this.auditFailure) return { ok: false, callId, error: this.auditFailure.toPayload() };
    const started = performance.now();
    const tool = this.registry.tools.get(name);
    const entry: AuditEntry = {
      ts: new Date().toISOString(),
      callId,
      actor: ctx.actor,
      tool: name,
      version: tool?.sandbox.version ?? null,
      digest: tool?.sandbox.digest ?? null,
      effect: tool?.effect ?? null,
      input: this.redactInput(input),
      outcome: "error",
      errorCode: null,
      durationMs: 0,
      outputSha256: null,
      outputBytes: 0,
      egress: [],
      files: [],
      confirmedBy: null,
    };
    let result: CallResult;
    try {
      if (!tool) throw new WardenError("E_UNKNOWN_TOOL", `unknown tool "${String(name).slice(0, 100)}"`);
      result = { ok: true, callId, output: await this.run(tool, input, ctx, entry) };
    } catch (err) {
      const e = toWardenError(err);
      result = { ok: false, callId, error: e.toPayload() };
    }
    entry.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (result.ok) entry.outcome = "ok";
    else entry.errorCode = result.error.code;
    // Rare path (a failure): the quarantine is in force before this call answers.
    if (tool && !result.ok) await this.applyVerdict(tool, entry.errorCode, callId);
    // The answer waits for the durable audit record: no call is answered unaudited.
    try {
      await this.options.audit.append(entry);
    } catch (err) {
      this.auditFailure = new WardenError("E_AUDIT", `the audit log cannot be written (${toWardenError(err).message}); warden refuses calls rather than run unaudited — fix the audit file and restart`);
      this.options.logger.fatal({ err: toWardenError(err).message }, "audit log write failed; refusing all calls");
      this.options.alerter?.raise({ kind: "audit_write_failed", tool: name, owner: tool?.sandbox.owner ?? null, reason: this.auditFailure.message, callIds: [callId] });
      return { ok: false, callId, error: this.auditFailure.toPayload() };
    }
    return result;
  }

  private async run(tool: RegisteredTool, input: unknown, ctx: CallContext, entry: AuditEntry): Promise<unknown> {
    if (isDisabled(tool, this.config.disabled))
      throw new WardenError("E_DISABLED", `${tool.name} is disabled by the operator (kill switch); run: warden enable ${tool.name}`);
    if (!isApproved(this.lock, tool.name, tool.sandbox.digest))
      throw new WardenError(
        "E_NOT_APPROVED",
        this.lock.tools[tool.name]
          ? `${tool.name} changed since it was approved (digest ${tool.sandbox.digest}); review and run: warden approve ${tool.name}`
          : `${tool.name} is not approved; review it and run: warden approve ${tool.name}`,
      );
    if (!isAllowedFor(tool, ctx.allow))
      throw new WardenError("E_FORBIDDEN", `${ctx.actor} may not use ${tool.name} (${tool.effect}); the operator can add "${tool.name}" or "${tool.effect}" to that identity's allow list`);
    const inputCheck = tool.checkInput(input);
    if (!inputCheck.ok)
      throw new WardenError("E_INPUT_INVALID", `input does not match the inputSchema of ${tool.name}: ${inputCheck.problems.join("; ")}`);
    if (this.config.confirm.includes(tool.effect)) {
      const answer = ctx.confirm
        ? await ctx.confirm({ callId: entry.callId, tool: tool.name, effect: tool.effect, input: entry.input }).catch(() => ({ accepted: false, by: null }))
        : null;
      if (!answer?.accepted)
        throw new WardenError(
          "E_NOT_CONFIRMED",
          answer ? `${tool.name} (${tool.effect}) was not confirmed by a human; the tool did not run` : `${tool.name} (${tool.effect}) needs a human's confirmation and this client cannot ask for it (no elicitation support); the tool did not run`,
        );
      entry.confirmedBy = answer.by ?? ctx.actor;
    }
    const executor = this.options.executors[tool.sandbox.runtime];
    if (!executor)
      throw new WardenError("E_SANDBOX_UNAVAILABLE", `no ${tool.sandbox.runtime} sandbox is available on this server; ${tool.name} cannot run`);
    // One controller per call: the client's cancel, its disconnect and the kill switch all stop it.
    const controller = new AbortController();
    const relay = () => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) relay();
    else ctx.signal.addEventListener("abort", relay, { once: true });
    this.running.set(entry.callId, { tool: tool.name, controller, entry });
    let outcome: ExecuteOutcome;
    try {
      const release = await this.admission.acquire(controller.signal);
      const { host, egress, files } = createToolHost(tool, controller.signal, ctx, this.registry.allSecretValues, this.options.journal?.forCall(entry.callId, tool.name));
      entry.egress = egress;
      entry.files = files;
      try {
        // The backend's own start-up (workers loading isolated-vm) never counts against a call's deadline.
        if (executor.ready) await executor.ready();
        outcome = await executor.execute({ callId: entry.callId, tool: tool.sandbox, input, env: tool.secrets, host, signal: controller.signal });
      } finally {
        release();
      }
    } finally {
      this.running.delete(entry.callId);
      ctx.signal.removeEventListener("abort", relay);
    }
    if (!outcome.ok) {
      // A tool that lets a refused fetch/fs error escape failed *because* of the
      // refusal: report the denial (the operator's fix), not a generic failure.
      const denial = entry.egress.find((e) => e.denied) ?? entry.files.find((f) => f.denied);
      if (outcome.error.code === "E_TOOL_FAILED" && denial) throw new WardenError("E_CAPABILITY_DENIED", outcome.error.message);
      throw new WardenError(outcome.error.code, outcome.error.message);
    }
    return this.checkOutput(tool, outcome.output, entry);
  }

  /** Secret values never leave in a result; the output must match the declared outputSchema. */
  private checkOutput(tool: RegisteredTool, raw: unknown, entry: AuditEntry): unknown {
    const { value: output, redacted } = redactSecretValues(raw, this.registry.allSecretValues);
    if (redacted) entry.outputRedacted = true;
    if (tool.checkOutput) {
      const check = tool.checkOutput(output);
      if (!check.ok)
        throw new WardenError("E_OUTPUT_INVALID", `the output of ${tool.name} does not match its outputSchema: ${check.problems.join("; ")}`);
    }
    const text = JSON.stringify(output) ?? "null";
    entry.outputBytes = Buffer.byteLength(text);
    entry.outputSha256 = createHash("sha256").update(text).digest("hex");
    return output;
  }

  private redactInput(input: unknown): unknown {
    return redactSecretValues(redactKeys(input, this.config.audit.redact), this.registry.allSecretValues).value;
  }

  /** Egress seen outside the ToolHost (the container egress proxy) joins the call's audit record. */
  recordEgress(callId: string, record: EgressRecord): void {
    this.running.get(callId)?.entry.egress.push(record);
  }

  get confirmTimeoutMs(): number {
    return this.config.confirmTimeoutMs;
  }

  get inFlight(): number {
    return this.admission.inFlight;
  }
}
