import { createHash, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { abortPayload, WardenError, toWardenError, type ErrorPayload } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { AuditEntry, AuditLog } from "../audit/index.js";
import type { Journal } from "../journal/index.js";
import { redactKeys, redactSecretValues, redactText } from "../capabilities/redaction.js";
import { shapeInput } from "./input-shape.js";

/** An unknown tool's name is client-chosen: the record keeps a bounded prefix. */
const MAX_NAME_IN_RECORD = 128;
import type { Effect, RuntimeKind } from "../manifest/schema.js";
import type { ContentBlock, Executor, ExecuteOutcome, LogThreshold, SandboxTool, ToolLogLevel } from "../../sandboxes/executor.js";
import type { ServerToolDefinition } from "../policy/pins.js";
import { driftOf, exposeServerTools } from "./server-tools.js";
import { Admission } from "./admission.js";
import { digestInput } from "./input-digest.js";
import { RefusalBudget } from "./refusal-budget.js";
import { ConfirmationSlots, confirmationLimits } from "./confirmation-slots.js";
import type { Registry, RegisteredTool } from "./registry.js";
import { createToolHost } from "./tool-host.js";
import { currentAllow, isAllowedFor, isDisabled, unknownToolError, type AllowSource } from "./scope.js";
import { approvalOf, isApproved, type Lock } from "../policy/lock.js";
import type { Alerter } from "../incident/alerts.js";
import { QuarantineCounter } from "../incident/quarantine.js";
import { quarantineActorInConfig, quarantineInConfig } from "../incident/quarantine-config.js";
import { finish, mark } from "../../sandboxes/isolate/timings.js";

/** The abort reason of every call that has ended: one frozen instance, not a new Error (and stack) per call (#14). */
const CALL_ENDED = Object.freeze(new WardenError("E_CANCELLED", "the call has ended"));

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
  /**
   * Tool names / effect classes this identity may use; undefined = everything
   * enabled and approved. A function is re-read at every check (the live config).
   */
  allow?: AllowSource;
  signal: AbortSignal;
  /** The MCP session ("stdio" or the HTTP session id): hosted servers with `lifecycle: "session"` live per session. */
  session?: string;
  /** The client's logging level at the start of the call: `log` drops lines below it anyway. */
  logLevel?: LogThreshold;
  log?(level: ToolLogLevel, message: string): void;
  progress?(done: number, total?: number): void;
  /** Asks a human (MCP elicitation). Absent ⇒ the client cannot confirm ⇒ E_NOT_CONFIRMED. */
  confirm?(request: ConfirmationRequest): Promise<ConfirmationAnswer>;
}

export type CallResult =
  | { ok: true; callId: string; output: unknown; content?: ContentBlock[] }
  | { ok: false; callId: string; error: ErrorPayload };

export interface BrokerOptions {
  config: Config;
  registry: Registry;
  lock: Lock;
  executors: Partial<Record<RuntimeKind, Executor>>;
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
  /** Entries of calls that reached their sandbox: only those keep their whole input in the audit record. */
  private readonly ran = new WeakSet<AuditEntry>();
  private readonly refusals = new RefusalBudget();
  private auditFailure: WardenError | null = null;
  private readonly confirmations = new ConfirmationSlots(() => confirmationLimits(this.config.concurrency.maxQueue));
  /** Quarantines that could not be written to the config (read-only mount): in force until restart. */
  private readonly memoryQuarantine = new Set<string>();
  /** Per-actor quarantines that could not be written to the config: "<tool>\0<actor>". */
  private readonly memoryActorQuarantine = new Set<string>();
  private readonly running = new Map<string, { tool: string; controller: AbortController; entry: AuditEntry }>();
  private readonly listeners = new Set<() => void>();
  private readonly quarantine: QuarantineCounter;
  /** What clients can call: native tools plus the pinned tools of approved hosted servers (server-tools.ts). */
  private tools: Map<string, RegisteredTool>;
  /** Hosted server (manifest name) → its exposed tool names withheld for drift, with the reason (SPEC §15). */
  private readonly withheld = new Map<string, Map<string, string>>();
  /** Calls whose failure was caused by another call (ExecuteOutcome.collateral); read once by call(). */
  private readonly collateral = new Set<string>();

  constructor(private readonly options: BrokerOptions) {
    this.config = options.config;
    this.registry = options.registry;
    this.lock = options.lock;
    this.tools = this.expandTools();
    this.admission = new Admission(options.config.concurrency.maxInFlight, options.config.concurrency.maxQueue);
    this.quarantine = new QuarantineCounter(options.config.quarantine);
    // Hosted servers report what they list (start, list_changed): the drift check against the pins (SPEC §15).
    for (const executor of Object.values(options.executors)) executor?.onDefinitions?.((tool, definitions) => this.onServerDefinitions(tool, definitions));
  }

  /** Tools this identity may see: approved, enabled, within its scope and not quarantined for it. */
  listTools(allow?: AllowSource, actor?: string): RegisteredTool[] {
    const scope = currentAllow(allow);
    return [...this.tools.values()].filter((t) => this.isCallable(t) && isAllowedFor(t, scope) && (actor === undefined || !this.isQuarantinedFor(t, actor)));
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
    return !this.isDisabled(t) && this.isApprovedNow(t) && this.withheldReason(t) === undefined;
  }

  /** A hosted server's tool is approved through its server's approval (and exists only while its pin does). */
  private isApprovedNow(t: RegisteredTool): boolean {
    return isApproved(this.lock, t.server?.unit ?? t.name, t.sandbox.digest);
  }

  /** `disabled` may name a hosted server: that switches off every tool it exposes. */
  private isDisabled(t: RegisteredTool): boolean {
    const unit = t.server?.unit;
    return (
      isDisabled(t, this.config.disabled) ||
      this.memoryQuarantine.has(t.name) ||
      (unit !== undefined && (this.config.disabled.includes(unit) || this.memoryQuarantine.has(unit)))
    );
  }

  /** Drift is looked up under the tool's own hosted server only: a server can never withhold a native tool or another server's (review F7). */
  private withheldReason(t: RegisteredTool): string | undefined {
    return t.server ? this.withheld.get(t.server.unit)?.get(t.name) : undefined;
  }

  /** A name no tool has, that some hosted server lists without a pin: its server, for an E_NOT_APPROVED that names the fix. */
  private unpinnedServerOf(name: string): { unit: string; reason: string } | undefined {
    for (const [unit, names] of this.withheld) {
      const reason = names.get(name);
      if (reason !== undefined) return { unit, reason };
    }
    return undefined;
  }

  private expandTools(): Map<string, RegisteredTool> {
    const native = new Map<string, RegisteredTool>();
    const units: RegisteredTool[] = [];
    for (const t of this.registry.tools.values()) (t.sandbox.runtime === "mcp-server" ? units.push(t) : native.set(t.name, t));
    for (const [name, t] of exposeServerTools(units, this.lock, new Set(native.keys()), this.options.logger)) native.set(name, t);
    return native;
  }

  /**
   * A hosted server listed its tools (start or `list_changed`): every tool whose
   * definition differs from its pin, or that was never pinned, is withheld —
   * not listed, and refused with E_NOT_APPROVED — and the drift is alerted.
   */
  onServerDefinitions(sandbox: SandboxTool, definitions: ServerToolDefinition[]): void {
    const unit = this.registry.tools.get(sandbox.name);
    if (!unit || unit.sandbox.digest !== sandbox.digest) return;
    const before = this.callableSignature();
    const withheld = this.withheld.get(unit.name) ?? new Map<string, string>();
    // Monotonic until re-approval (or restart): a drift seen by any session's server withholds the tool
    // for every session — one server flipping back and forth cannot make it flap (review F6, F11).
    const fresh: string[] = [];
    for (const [name, reason] of driftOf(unit, this.lock, definitions)) {
      if (withheld.has(name)) continue;
      if (withheld.size >= 1000) break; // a server cannot grow this map without bound
      withheld.set(name, reason);
      fresh.push(`${name}: ${reason}`);
    }
    this.withheld.set(unit.name, withheld);
    if (fresh.length === 0) return;
    // One alert per new drift of a server, naming the tools (capped): a server listing fresh names in a loop cannot flood the alerts (F3).
    this.options.logger.warn({ tool: unit.name, withheld: fresh.slice(0, 20), count: fresh.length }, "hosted MCP server drifted from its approval; tools withheld");
    this.options.alerter?.raise({
      kind: "approved_tool_drift",
      tool: unit.name,
      owner: unit.sandbox.owner ?? null,
      reason: `${unit.name} drifted from its approval (${fresh.length} tool${fresh.length === 1 ? "" : "s"}): ${fresh.slice(0, 20).join("; ")}${fresh.length > 20 ? "; …" : ""}; withheld until an operator reviews and runs: warden approve ${unit.name}`,
    });
    if (this.callableSignature() !== before) for (const l of this.listeners) l();
  }

  /** The MCP session ended: hosted servers kept for it stop (SPEC §15 lifecycle "session"). */
  async endSession(session: string): Promise<void> {
    await Promise.all(Object.values(this.options.executors).map((e) => e?.endSession?.(session).catch(() => {})));
  }

  /** Per-actor auto-quarantine (SPEC §14): this actor drove the tool into refusals; others still use it. */
  private isQuarantinedFor(t: RegisteredTool, actor: string): boolean {
    const q = this.config.quarantined;
    return (Object.hasOwn(q, t.name) && q[t.name]!.includes(actor)) || this.memoryActorQuarantine.has(`${t.name}\0${actor}`);
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
    if (next.lock) {
      // A new approval of a hosted server replaces its pins: its drift verdict no longer applies.
      for (const unit of this.withheld.keys())
        if (JSON.stringify(next.lock.tools[unit] ?? null) !== JSON.stringify(this.lock.tools[unit] ?? null)) this.withheld.delete(unit);
      this.lock = next.lock;
    }
    this.tools = this.expandTools();
    for (const [callId, call] of this.running) {
      const tool = this.tools.get(call.tool);
      if (!tool || !this.isCallable(tool)) {
        this.options.logger.warn({ callId, tool: call.tool }, "cancelling an in-flight call: its tool was disabled or lost its approval");
        call.controller.abort(new WardenError("E_CANCELLED", `${call.tool} was disabled by the operator while the call ran; the call was cancelled`));
      }
    }
    // Scope edits change what a session sees without changing the callable set: every
    // session is told, and each compares its own visible list (#18.10).
    if (next.config || this.callableSignature() !== before) for (const l of this.listeners) l();
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
    this.options.logger.error({ tool: tool.name, scope: verdict.scope, actor: verdict.actor, reason: verdict.reason }, "tool quarantined");
    const ok = verdict.scope === "tool" ? await this.quarantineTool(tool.name) : await this.quarantineActor(tool.name, verdict.actor);
    const forWhom = verdict.scope === "tool" ? "for every client" : `for ${verdict.actor} only (other clients keep using it)`;
    this.options.alerter?.raise({
      kind: "quarantine",
      tool: tool.name,
      owner: tool.sandbox.owner ?? null,
      scope: verdict.scope,
      actor: verdict.actor,
      reason: `${verdict.reason}; ${tool.name} is disabled ${forWhom} until an operator runs: warden enable ${tool.name}${ok ? "" : " (the config could not be written: the quarantine lasts until restart)"}`,
      counts: verdict.counts,
      callIds: verdict.callIds,
      actors: verdict.actors,
    });
  }

  /**
   * A quarantine is held in memory while its config write is in flight: a live reload of the file as it
   * was before the write (started by another edit) must not lift it meanwhile. Once written, the file
   * holds it and `warden enable` lifts it as usual; if the file cannot be written, it lasts until restart.
   */
  private async quarantineTool(name: string): Promise<boolean> {
    this.memoryQuarantine.add(name);
    this.update({ config: { ...this.config, disabled: [...new Set([...this.config.disabled, name])] } });
    const ok = this.options.configFile ? await quarantineInConfig(this.options.configFile, name) : false;
    if (ok) this.memoryQuarantine.delete(name);
    return ok;
  }

  private async quarantineActor(name: string, actor: string): Promise<boolean> {
    const key = `${name}\0${actor}`;
    this.memoryActorQuarantine.add(key);
    const quarantined = { ...this.config.quarantined };
    quarantined[name] = [...new Set([...(Object.hasOwn(quarantined, name) ? quarantined[name]! : []), actor])];
    this.update({ config: { ...this.config, quarantined } });
    const ok = this.options.configFile ? await quarantineActorInConfig(this.options.configFile, name, actor) : false;
    if (ok) this.memoryActorQuarantine.delete(key);
    return ok;
  }

  private callableSignature(): string {
    return [...this.tools.values()]
      .filter((t) => this.isCallable(t))
      .map((t) => `${t.name}@${t.sandbox.digest}:${t.effect}`)
      .sort()
      .join(",");
  }

  getTool(name: string): RegisteredTool | undefined {
    return this.tools.get(name) ?? this.registry.tools.get(name);
  }

  /** Pre-warms every sandbox so the first call does not pay for it. */
  async prepare(): Promise<void> {
    await Promise.all(
      [...this.registry.tools.values()].map((t) => this.options.executors[t.sandbox.runtime]?.prepare(t.sandbox, t.secrets)),
    );
  }

  async call(name: string, rawInput: unknown, ctx: CallContext): Promise<CallResult> {
    const callId = randomUUID();
    // Fail closed: once the audit log cannot be written, nothing runs unaudited.
    if (this.auditFailure) return { ok: false, callId, error: this.auditFailure.toPayload() };
    const started = performance.now();
    mark(callId, "start"); // WARDEN_TIMINGS=1 only (bench/breakdown-bench.ts)
    const tool = this.tools.get(name);
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
      if (!tool) {
        // A hosted server's tool that drifted or was never pinned: the operator's fix is a review.
        const unpinned = this.unpinnedServerOf(String(name));
        if (unpinned) throw new WardenError("E_NOT_APPROVED", `${String(name)} is not approved: ${unpinned.reason}; review and run: warden approve ${unpinned.unit}`);
        throw unknownToolError(name);
      }
      // Scope first: a tool outside it is answered like an unknown one (#18.8).
      if (!isAllowedFor(tool, currentAllow(ctx.allow))) throw unknownToolError(name, "E_FORBIDDEN");
      if (!shaped.ok) throw new WardenError("E_INPUT_INVALID", `input refused: ${shaped.reason}`);
      const done = await this.run(tool, input, ctx, entry);
      result = { ok: true, callId, output: done.output, ...(done.content ? { content: done.content } : {}) };
    } catch (err) {
      const e = toWardenError(err);
      // Tool messages and denial texts can carry what a tool chose to put there, secrets included.
      result = { ok: false, callId, error: { code: e.code, message: redactText(e.message, this.registry.allSecretValues) } };
      if (e.details?.auditAs === "E_FORBIDDEN") entry.errorCode = "E_FORBIDDEN";
    }
    entry.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (result.ok) entry.outcome = "ok";
    else entry.errorCode ??= result.error.code;
    if (!this.ran.has(entry)) {
      entry.inputDigest = digestInput(shaped.ok ? entry.input : undefined, rawInput, shaped.ok ? undefined : shaped.reason);
      entry.input = null;
      this.refusals.spend(ctx.actor, entry.errorCode);
    }
    // Rare path (a failure): the quarantine is in force before this call answers.
    // A call stopped by a neighbour's crash (ExecuteOutcome.collateral) is not its tool's fault: never counted.
    const collateral = this.collateral.delete(callId);
    if (tool && !result.ok && !collateral) await this.applyVerdict(tool, entry.errorCode, callId, ctx.actor);
    // The answer waits for the durable audit record: no call is answered unaudited.
    try {
      mark(callId, "checked");
      await this.options.audit.append(this.redactRecord(entry));
      mark(callId, "audited");
      finish(callId);
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
    // The scope is read from the live config at every check (#18.1): narrowed while a human decided ⇒ refused.
    if (!isAllowedFor(tool, currentAllow(ctx.allow))) throw unknownToolError(tool.name, "E_FORBIDDEN");
    const current = this.tools.get(tool.name);
    const approvalName = tool.server?.unit ?? tool.name;
    if (!current || current.sandbox.digest !== tool.sandbox.digest || current.server?.sha256 !== tool.server?.sha256)
      throw new WardenError("E_NOT_APPROVED", `${tool.name} changed while the call waited; review and run: warden approve ${approvalName}`);
    const withheld = this.withheldReason(current);
    if (withheld !== undefined) throw new WardenError("E_NOT_APPROVED", `${current.name} is not approved: ${withheld}; review and run: warden approve ${approvalName}`);
    if (this.isDisabled(current))
      throw new WardenError("E_DISABLED", `${tool.name} is disabled by the operator (kill switch); run: warden enable ${tool.name}`);
    if (this.isQuarantinedFor(current, ctx.actor))
      throw new WardenError("E_DISABLED", `${tool.name} is quarantined for ${ctx.actor} after repeated capability denials; the operator can run: warden enable ${tool.name}`);
    if (!this.isApprovedNow(current))
      throw new WardenError(
        "E_NOT_APPROVED",
        approvalOf(this.lock, approvalName)
          ? `${current.name} changed since it was approved (digest ${current.sandbox.digest}); review and run: warden approve ${approvalName}`
          : `${current.name} is not approved; review it and run: warden approve ${approvalName}`,
      );
    if (!isAllowedFor(current, currentAllow(ctx.allow))) throw unknownToolError(current.name, "E_FORBIDDEN");
    return current;
  }

  private async run(tool: RegisteredTool, input: unknown, ctx: CallContext, entry: AuditEntry): Promise<{ output: unknown; content?: ContentBlock[] }> {
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
    // Waiting humans are bounded like waiting calls, in total and per identity: a flood is refused, not held.
    const giveBack = this.confirmations.take(ctx.actor);
    let answer: ConfirmationAnswer;
    try {
      answer = await ctx.confirm({ callId: entry.callId, tool: tool.name, effect: tool.effect, input: entry.input }).catch(() => ({ accepted: false, by: null }));
    } finally {
      giveBack();
    }
    if (signal.aborted) {
      const stopped = abortPayload(signal.reason, "the call was cancelled while it waited for confirmation");
      throw new WardenError(stopped.code, stopped.message);
    }
    if (!answer.accepted) throw new WardenError("E_NOT_CONFIRMED", `${tool.name} (${tool.effect}) was not confirmed by a human; the tool did not run`);
    entry.confirmedBy = answer.by ?? ctx.actor;
  }

  private async execute(admitted: RegisteredTool, input: unknown, ctx: CallContext, entry: AuditEntry, controller: AbortController): Promise<{ output: unknown; content?: ContentBlock[] }> {
    let tool = admitted;
    let outcome: ExecuteOutcome;
    const release = await this.admission.acquire(ctx.actor, controller.signal);
    try {
      // The wait for a slot is a wait too: scope, kill switch and approval are read again (#18.1), and the
      // tool as it is NOW runs — grants, secrets and limits the operator changed while the call waited apply.
      tool = this.admit(tool, ctx);
      const executor = this.options.executors[tool.sandbox.runtime];
      if (!executor)
        throw new WardenError("E_SANDBOX_UNAVAILABLE", `no ${tool.sandbox.runtime} sandbox is available on this server; ${tool.name} cannot run`);
      const { host, egress, files } = createToolHost(tool, controller.signal, ctx, this.registry.allSecretValues, this.options.journal?.forCall(entry.callId, tool.name));
      entry.egress = egress;
      entry.files = files;
      // The backend's own start-up (workers loading isolated-vm) never counts against a call's deadline.
      if (executor.ready) await executor.ready();
      this.ran.add(entry);
      mark(entry.callId, "exec");
      outcome = await executor.execute({
        callId: entry.callId,
        tool: tool.sandbox,
        input,
        env: tool.secrets,
        network: tool.capabilities.network,
        host,
        signal: controller.signal,
        ...(tool.server ? { remote: { name: tool.server.remote, sha256: tool.server.sha256 } } : {}),
        ...(ctx.session !== undefined ? { session: ctx.session } : {}),
        actor: ctx.actor,
      });
    } finally {
      release();
      // Issue #16: the call is over (answered, timed out or crashed): stop every host request it started
      // (fetches, fs); each aborted fetch records its egress synchronously before the audit record is written.
      controller.abort(CALL_ENDED);
    }
    mark(entry.callId, "execDone");
    if (!outcome.ok && outcome.collateral) this.collateral.add(entry.callId);
    if (!outcome.ok) {
      // A tool that lets a refused fetch/fs error escape failed *because* of the
      // refusal: report the denial (the operator's fix), not a generic failure.
      const denial = entry.egress.find((e) => e.denied) ?? entry.files.find((f) => f.denied);
      if (outcome.error.code === "E_TOOL_FAILED" && denial) throw new WardenError("E_CAPABILITY_DENIED", outcome.error.message);
      throw new WardenError(outcome.error.code, outcome.error.message);
    }
    return this.checkOutput(tool, outcome.output, entry, outcome.content);
  }

  /**
   * Secret values never leave in a result; the output must match the declared outputSchema.
   * A hosted server's content blocks are redacted like the output; its structuredContent is the output.
   */
  private checkOutput(tool: RegisteredTool, raw: unknown, entry: AuditEntry, rawContent?: ContentBlock[]): { output: unknown; content?: ContentBlock[] } {
    const { value: output, redacted } = redactSecretValues(raw, this.registry.allSecretValues);
    const scrubbed = rawContent ? redactSecretValues(rawContent, this.registry.allSecretValues) : null;
    if (redacted || scrubbed?.redacted) entry.outputRedacted = true;
    if (scrubbed && output === undefined) {
      // MCP: a tool that declares an outputSchema must return structuredContent.
      if (tool.checkOutput) throw new WardenError("E_OUTPUT_INVALID", `${tool.name} declares an outputSchema but returned no structuredContent`);
      return this.measured({ content: scrubbed.value }, entry);
    }
    if (tool.checkOutput) {
      const check = tool.checkOutput(output);
      if (!check.ok)
        throw new WardenError("E_OUTPUT_INVALID", `the output of ${tool.name} does not match its outputSchema: ${check.problems.join("; ")}`);
    }
    return this.measured(scrubbed ? { output, content: scrubbed.value } : { output }, entry);
  }

  private measured(result: { output?: unknown; content?: ContentBlock[] }, entry: AuditEntry): { output: unknown; content?: ContentBlock[] } {
    const text = (result.content ? JSON.stringify(result) : JSON.stringify(result.output)) ?? "null";
    entry.outputBytes = Buffer.byteLength(text);
    entry.outputSha256 = createHash("sha256").update(text).digest("hex");
    return { output: result.output, ...(result.content ? { content: result.content } : {}) };
  }

  private redactInput(input: unknown): unknown {
    return redactSecretValues(redactKeys(input, this.config.audit.redact), this.registry.allSecretValues).value;
  }

  /** Every granted secret value, as loaded now (alerts redact with it). */
  secretValues(): readonly string[] {
    return this.registry.allSecretValues;
  }

  /** The config in force now (the HTTP transport authenticates against it, so revoked tokens stop at once). */
  get currentConfig(): Config {
    return this.config;
  }

  /** Seconds until this identity may call again after too many refused calls (#18.7); 0 = now. */
  refusalRetryAfter(actor: string): number {
    return this.refusals.retryAfter(actor);
  }

  get confirmTimeoutMs(): number {
    return this.config.confirmTimeoutMs;
  }

  get inFlight(): number {
    return this.admission.inFlight;
  }
}
