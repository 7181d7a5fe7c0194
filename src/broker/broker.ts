import { createHash, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { WardenError, toWardenError, type ErrorPayload } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { AuditEntry, AuditLog } from "../audit/index.js";
import type { Journal } from "../journal/index.js";
import { redactKeys, redactSecretValues, redactText } from "../capabilities/redaction.js";
import { shapeInput } from "./input-shape.js";

/** An unknown tool's name is client-chosen: the record keeps a bounded prefix. */
const MAX_NAME_IN_RECORD = 128;
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
  private pendingConfirmations = 0;
  /** Quarantines that could not be written to the config (read-only mount): in force until restart. */
  private readonly memoryQuarantine = new Set<string>();
  private readonly running = new Map<string, { tool: string; controller: AbortController; entry: AuditEntry }>();
  private readonly listeners = new Set<() => void>();
  private readonly quarantine: QuarantineCounter;
  /** Calls whose failure was caused by another call (ExecuteOutcome.collateral); read once by call(). */
  private readonly collateral = new Set<string>();

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
      disabled: this.isDisabled(tool),
    }));
  }

  private isCallable(t: RegisteredTool): boolean {
    return !this.isDisabled(t) && isApproved(this.lock, t.name, t.sandbox.digest);
  }

  private isDisabled(t: RegisteredTool): boolean {
    return isDisabled(t, this.config.disabled) || this.memoryQuarantine.has(t.name);
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
  private async applyVerdict(tool: RegisteredTool, errorCode: string | null, callId: string, actor: string): Promise<void> {
    if (errorCode === "E_SANDBOX_CRASHED")
      this.options.alerter?.raise({ kind: "sandbox_crash", tool: tool.name, owner: tool.sandbox.owner ?? null, reason: `the ${tool.sandbox.runtime} sandbox of ${tool.name} crashed`, callIds: [callId] });
    const verdict = this.quarantine.record(tool.name, errorCode, callId, actor);
    if (!verdict) return;
    this.options.logger.error({ tool: tool.name, reason: verdict.reason }, "tool quarantined");
    this.update({ config: { ...this.config, disabled: [...new Set([...this.config.disabled, tool.name])] } });
    const ok = this.options.configFile ? await quarantineInConfig(this.options.configFile, tool.name) : false;
    if (!ok) this.memoryQuarantine.add(tool.name);
    this.options.alerter?.raise({
        kind: "quarantine",
        tool: tool.name,
        owner: tool.sandbox.owner ?? null,
        reason: `${verdict.reason}; ${tool.name} is disabled until an operator runs: warden enable ${tool.name}${ok ? "" : " (the config could not be written: the quarantine lasts until restart)"}`,
        counts: verdict.counts,
        callIds: verdict.callIds,
        actors: verdict.actors,
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

  async call(name: string, rawInput: unknown, ctx: CallContext): Promise<CallResult> {
    const callId = randomUUID();
    // Fail closed: once the audit log cannot be written, nothing runs unaudited.
    if (this.auditFailure) return { ok: false, callId, error: this.auditFailure.toPayload() };
    const started = performance.now();
    const tool = this.registry.tools.get(name);
    // Bounded and own-properties only, before anything walks it: a deeply nested
    // argument must not overflow the stack of redaction or audit serialisation.
    const shaped = shapeInput(rawInput);
    const input = shaped.ok ? shaped.value : null;
    const entry: AuditEntry = {
      ts: new Date().toISOString(),
      callId,
      actor: ctx.actor,
      tool: String(name).slice(0, MAX_NAME_IN_RECORD),
      version: tool?.sandbox.version ?? null,
      digest: tool?.sandbox.digest ?? null,
      effect: tool?.effect ?? null,
      input: shaped.ok ? this.redactInput(input) : { refused: shaped.reason },
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
      if (!shaped.ok) throw new WardenError("E_INPUT_INVALID", `input refused: ${shaped.reason}`);
      result = { ok: true, callId, output: await this.run(tool, input, ctx, entry) };
    } catch (err) {
      const e = toWardenError(err);
      // Tool messages and denial texts can carry what a tool chose to put there, secrets included.
      result = { ok: false, callId, error: { code: e.code, message: redactText(e.message, this.registry.allSecretValues) } };
    }
    entry.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (result.ok) entry.outcome = "ok";
    else entry.errorCode = result.error.code;
    // Rare path (a failure): the quarantine is in force before this call answers.
    // A call stopped by a neighbour's crash (ExecuteOutcome.collateral) is not its tool's fault: never counted.
    const collateral = this.collateral.delete(callId);
    if (tool && !result.ok && !collateral) await this.applyVerdict(tool, entry.errorCode, callId, ctx.actor);
    // The answer waits for the durable audit record: no call is answered unaudited.
    try {
      await this.options.audit.append(this.redactRecord(entry));
    } catch (err) {
      this.auditFailure = new WardenError("E_AUDIT", `the audit log cannot be written (${toWardenError(err).message}); warden refuses calls rather than run unaudited — fix the audit file and restart`);
      this.options.logger.fatal({ err: toWardenError(err).message }, "audit log write failed; refusing all calls");
      this.options.alerter?.raise({ kind: "audit_write_failed", tool: entry.tool, owner: tool?.sandbox.owner ?? null, reason: this.auditFailure.message, callIds: [callId] });
      return { ok: false, callId, error: this.auditFailure.toPayload() };
    }
    return result;
  }

  /** Egress hosts and file paths are tool-chosen strings: scrub secret values from the whole record. */
  private redactRecord(entry: AuditEntry): AuditEntry {
    return redactSecretValues(entry, this.registry.allSecretValues).value;
  }

  /** Kill switch, approval and scope: checked before confirmation and again after it (the state may change while a human decides). */
  private admit(tool: RegisteredTool, ctx: CallContext): RegisteredTool {
    const current = this.registry.tools.get(tool.name);
    if (!current || current.sandbox.digest !== tool.sandbox.digest)
      throw new WardenError("E_NOT_APPROVED", `${tool.name} changed while the call waited; review and run: warden approve ${tool.name}`);
    if (this.isDisabled(current))
      throw new WardenError("E_DISABLED", `${tool.name} is disabled by the operator (kill switch); run: warden enable ${tool.name}`);
    if (!isApproved(this.lock, current.name, current.sandbox.digest))
      throw new WardenError(
        "E_NOT_APPROVED",
        this.lock.tools[current.name]
          ? `${current.name} changed since it was approved (digest ${current.sandbox.digest}); review and run: warden approve ${current.name}`
          : `${current.name} is not approved; review it and run: warden approve ${current.name}`,
      );
    if (!isAllowedFor(current, ctx.allow))
      throw new WardenError("E_FORBIDDEN", `${ctx.actor} may not use ${current.name} (${current.effect}); the operator can add "${current.name}" or "${current.effect}" to that identity's allow list`);
    return current;
  }

  private async run(tool: RegisteredTool, input: unknown, ctx: CallContext, entry: AuditEntry): Promise<unknown> {
    this.admit(tool, ctx);
    const inputCheck = tool.checkInput(input);
    if (!inputCheck.ok)
      throw new WardenError("E_INPUT_INVALID", `input does not match the inputSchema of ${tool.name}: ${inputCheck.problems.join("; ")}`);
    // One controller per call, registered before confirmation: the client's cancel,
    // its disconnect and the kill switch all stop it, even while a human decides.
    const controller = new AbortController();
    const relay = () => controller.abort(ctx.signal.reason);
    if (ctx.signal.aborted) relay();
    else ctx.signal.addEventListener("abort", relay, { once: true });
    this.running.set(entry.callId, { tool: tool.name, controller, entry });
    try {
      if (this.config.confirm.includes(tool.effect)) await this.confirm(tool, ctx, entry, controller.signal);
      return await this.execute(this.admit(tool, ctx), input, ctx, entry, controller);
    } finally {
      this.running.delete(entry.callId);
      ctx.signal.removeEventListener("abort", relay);
    }
  }

  private async confirm(tool: RegisteredTool, ctx: CallContext, entry: AuditEntry, signal: AbortSignal): Promise<void> {
    if (!ctx.confirm)
      throw new WardenError("E_NOT_CONFIRMED", `${tool.name} (${tool.effect}) needs a human's confirmation and this client cannot ask for it (no elicitation support); the tool did not run`);
    // Waiting humans are bounded like waiting calls: a flood of confirmations is refused, not held in memory.
    if (this.pendingConfirmations >= this.config.concurrency.maxQueue)
      throw new WardenError("E_BUSY", `busy: ${this.pendingConfirmations} calls are waiting for a human's confirmation; retry later`);
    this.pendingConfirmations++;
    let answer: ConfirmationAnswer;
    try {
      answer = await ctx.confirm({ callId: entry.callId, tool: tool.name, effect: tool.effect, input: entry.input }).catch(() => ({ accepted: false, by: null }));
    } finally {
      this.pendingConfirmations--;
    }
    if (signal.aborted) throw toWardenError(signal.reason instanceof WardenError ? signal.reason : new WardenError("E_CANCELLED", "the call was cancelled while it waited for confirmation"));
    if (!answer.accepted) throw new WardenError("E_NOT_CONFIRMED", `${tool.name} (${tool.effect}) was not confirmed by a human; the tool did not run`);
    entry.confirmedBy = answer.by ?? ctx.actor;
  }

  private async execute(tool: RegisteredTool, input: unknown, ctx: CallContext, entry: AuditEntry, controller: AbortController): Promise<unknown> {
    const executor = this.options.executors[tool.sandbox.runtime];
    if (!executor)
      throw new WardenError("E_SANDBOX_UNAVAILABLE", `no ${tool.sandbox.runtime} sandbox is available on this server; ${tool.name} cannot run`);
    let outcome: ExecuteOutcome;
    const release = await this.admission.acquire(controller.signal);
    try {
      const { host, egress, files } = createToolHost(tool, controller.signal, ctx, this.registry.allSecretValues, this.options.journal?.forCall(entry.callId, tool.name));
      entry.egress = egress;
      entry.files = files;
      // The backend's own start-up (workers loading isolated-vm) never counts against a call's deadline.
      if (executor.ready) await executor.ready();
      outcome = await executor.execute({ callId: entry.callId, tool: tool.sandbox, input, env: tool.secrets, host, signal: controller.signal });
    } finally {
      release();
      // Issue #16: the call is over (answered, timed out or crashed): stop every host request it started
      // (fetches, fs); each aborted fetch records its egress synchronously before the audit record is written.
      controller.abort(new WardenError("E_CANCELLED", "the call has ended"));
    }
    if (!outcome.ok && outcome.collateral) this.collateral.add(entry.callId);
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

  /** Every granted secret value, as loaded now (alerts redact with it). */
  secretValues(): readonly string[] {
    return this.registry.allSecretValues;
  }

  /** The config in force now (the HTTP transport authenticates against it, so revoked tokens stop at once). */
  get currentConfig(): Config {
    return this.config;
  }

  get confirmTimeoutMs(): number {
    return this.config.confirmTimeoutMs;
  }

  get inFlight(): number {
    return this.admission.inFlight;
  }
}
