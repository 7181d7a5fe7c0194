/**
 * The mcp-server backend (SPEC §15): unmodified MCP servers in hardened
 * containers, one per MCP session (`lifecycle: "session"`, default) or one
 * per call (`"call"`). warden is their MCP client; every call is checked
 * against the pin it was approved with before the server sees it.
 */
import type Dockerode from "dockerode";
import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { toWardenError, WardenError, type ErrorPayload } from "../../src/errors.js";
import type { EgressRecord, NetworkGrant } from "../../src/capabilities/types.js";
import type { ServerToolDefinition } from "../../src/policy/pins.js";
import { containerSpec, directLaunch, type EgressAttachment } from "../docker/container-spec.js";
import { defaultDocker, engineCall } from "../docker/engine.js";
import { inspectToolImage } from "../docker/image-config.js";
import { blockEmbeddedDns } from "../docker/container-dns.js";
import type { ExecuteOutcome, ExecuteRequest, Executor, McpServerSandboxTool, SandboxTool } from "../executor.js";

/** A request this backend runs: a hosted server unit and the remote tool it calls. */
type ServerRequest = ExecuteRequest & { tool: McpServerSandboxTool };
import { reapLeftovers } from "../docker/reaper.js";
import type { DockerShared } from "../docker/docker-shared.js";
import { EgressGateway } from "../docker/egress-gateway.js";
import type { ContainerRuntime } from "../docker/runtime-spec.js";
import { authorizeEgress } from "../../src/capabilities/network/index.js";
import { HostedServer } from "./hosted-server.js";
import { failure, stoppedOutcome } from "../outcome/index.js";
import { outcomeOf } from "./result.js";
import { MAX_NOTIFICATIONS_PER_CALL, MAX_PROGRESS_PER_CALL, NotificationBudget } from "./notification-budget.js";

/**
 * Start-up (container, initialize, tools/list) has its own budget, outside the
 * call's `timeoutMs`: a cold npm server takes seconds to load, and the call's
 * deadline should measure the tool, not the engine. A call therefore waits at
 * most STARTUP_BUDGET_MS + timeoutMs (+ the grace) in all.
 */
export const STARTUP_BUDGET_MS = 20_000;
/** After a cancel or the deadline, the server gets this long before its container is killed. */
export const CANCEL_GRACE_MS = 1_000;
/** A session's server that saw no call for this long is stopped (a safety net behind session end). */
export const IDLE_MS = 10 * 60_000;

/** What the mcp-server backend needs of the shared egress gateway (sandboxes/container). */
export interface EgressProvider {
  ready(): Promise<EgressAttachment>;
  bind(ip: string, binding: { callId: string; tool: string; grants: NetworkGrant[]; onEgress(record: EgressRecord): void }): Promise<void>;
  unbind(ip: string): Promise<void>;
  /** Every record of exchanges ended so far was delivered; rejects when some may be lost (fail closed). */
  flush(ip: string, since: number): Promise<void>;
}

export interface McpServerExecutorOptions {
  docker?: Dockerode;
  serverId?: string;
  logger?: Logger;
  version?: string;
  egress?: EgressProvider;
  /** The server's Docker bundle (engine, server id, egress gateway, reaper), shared with the container backend. */
  shared?: DockerShared;
  /** Hosted servers running at once, in total and per identity (review F8): more sessions ⇒ E_BUSY, not more containers. */
  maxServers?: number;
  maxServersPerIdentity?: number;
  /** OCI runtime of every hosted server (config `container.runtime`, SPEC §16). Default runc. */
  runtime?: ContainerRuntime;
}

/** Failures that are a server's death (not warden stopping it): counted once per death (quarantine, alerts). */
const CHARGED_ONCE = new Set(["E_SANDBOX_CRASHED", "E_MEMORY", "E_OUTPUT_TOO_LARGE", "E_TOOL_FAILED", "E_TIMEOUT"]);

/**
 * A failure of the slot's server — its start died, or the running server did — as one call's outcome. One death
 * is one crash: the first call that reports it is charged, every other call it took down is collateral (which
 * of the calls in flight made the server die cannot be told, but counting it once per call would quarantine a
 * tool for everybody after one crash seen by three calls). A slot holds one server for its whole life (a dead
 * one's slot is forgotten), so the slot carries the one flag.
 */
function slotFailure(slot: Slot, error: ErrorPayload): ExecuteOutcome {
  const collateral = CHARGED_ONCE.has(error.code) && slot.failureCharged === true;
  if (CHARGED_ONCE.has(error.code)) slot.failureCharged = true;
  return { ok: false, error, ...(collateral ? { collateral: true as const } : {}) };
}

interface Slot {
  /** The death of this slot's server (or of its start) was charged to a call already. */
  failureCharged?: boolean;
  server: Promise<HostedServer>;
  inFlight: Set<string>;
  actor: string;
  idle?: NodeJS.Timeout;
}

export const DEFAULT_MAX_SERVERS = 32;
export const DEFAULT_MAX_SERVERS_PER_IDENTITY = 8;

export function createMcpServerExecutor(options: McpServerExecutorOptions = {}): McpServerExecutor {
  return new McpServerExecutor(options);
}

/**
 * An egress gateway of its own (network, proxy, host firewall rules), made only
 * when a hosted server is granted hosts. Same allowlist and address policy as
 * ctx.fetch (authorizeEgress).
 */
export function ownEgressGateway(docker: Dockerode, serverId: string, logger?: Logger): EgressGateway {
  return new EgressGateway({ docker, serverId, authorize: authorizeEgress, logger });
}

export class McpServerExecutor implements Executor {
  readonly runtime = "mcp-server" as const;
  private readonly docker: Dockerode;
  private readonly serverId: string;
  /** `${session}\0${tool}\0${digest}` → the session's server. */
  private readonly slots = new Map<string, Slot>();
  private readonly running = new Set<HostedServer>();
  private readonly definitionListeners: Array<(tool: SandboxTool, definitions: ServerToolDefinition[]) => void> = [];
  private closed = false;

  constructor(private readonly options: McpServerExecutorOptions) {
    this.docker = options.shared?.docker ?? options.docker ?? defaultDocker();
    this.serverId = options.shared?.serverId ?? options.serverId ?? randomBytes(6).toString("hex");
    // Servers left running by a warden that died (kill -9) go at start, like the container backend's leftovers.
    if (!options.shared) void reapLeftovers(this.docker, { serverId: this.serverId }).catch(() => {});
  }

  /** The broker's drift check (SPEC §15): every tools/list read from a hosted server, at start and on `list_changed`. */
  onDefinitions(listener: (tool: SandboxTool, definitions: ServerToolDefinition[]) => void): void {
    this.definitionListeners.push(listener);
  }

  private emitDefinitions(tool: SandboxTool, definitions: ServerToolDefinition[]): void {
    for (const listener of this.definitionListeners) listener(tool, definitions);
  }

  async prepare(): Promise<void> {
    // Servers start with their session's first call: a server per session cannot be warmed before the session exists.
  }

  async execute(outer: ExecuteRequest): Promise<ExecuteOutcome> {
    const { tool, remote } = outer;
    if (this.closed) return failure("E_SANDBOX_UNAVAILABLE", "the mcp-server backend is closed");
    if (tool.runtime !== "mcp-server" || !tool.image || !remote) return failure("E_SANDBOX_UNAVAILABLE", `${tool.name} is not a hosted MCP server tool`);
    const request: ServerRequest = { ...outer, tool };
    if (request.signal.aborted) return stopped(request.signal, tool);
    const session = tool.lifecycle === "call" ? `call:${request.callId}` : (request.session ?? "default");
    // The image ID is part of the key: after a re-approval of a rebuilt image, no call reaches a server of the old one.
    // So is the policy the call was admitted with (grants, secrets): a server's env and egress binding are fixed
    // when it starts, so a grant or secret the operator revoked mid-session must not live on in it.
    const unit = `${session}\0${tool.name}\0`;
    const key = `${unit}${tool.digest}\0${tool.imageId ?? ""}\0${policyFingerprint(request)}`;
    let slot: Slot | undefined;
    let server: HostedServer;
    try {
      slot = this.slotFor(unit, key, request);
      server = await raceSignal(slot.server, request.signal, AbortSignal.timeout(STARTUP_BUDGET_MS), tool);
      if (server.ended) {
        // Stopped (crash, flood, cancel) but not yet forgotten: this call gets a new server.
        if (this.slots.get(key) === slot) this.slots.delete(key);
        slot = this.slotFor(unit, key, request);
        server = await raceSignal(slot.server, request.signal, AbortSignal.timeout(STARTUP_BUDGET_MS), tool);
      }
    } catch (err) {
      if (tool.lifecycle === "call") void this.drop(key);
      else this.idleLater(key);
      const error = toWardenError(err, "E_SANDBOX_UNAVAILABLE").toPayload();
      // A start that died fails every call waiting on it.
      return slot ? slotFailure(slot, error) : { ok: false, error };
    }
    // The server may have been stopped while this call waited for its start (close(), session end): its reason.
    if (server.ended) return slotFailure(slot, server.failure.toPayload());
    slot.inFlight.add(request.callId);
    if (slot.idle) clearTimeout(slot.idle);
    try {
      return await this.callOn(slot, server, request, remote.name, remote.sha256);
    } finally {
      slot.inFlight.delete(request.callId);
      if (tool.lifecycle === "call") void this.drop(key);
      else this.idleLater(key);
    }
  }

  /** A session's server with no call in flight is stopped after IDLE_MS (a server started for a cancelled call too). */
  private idleLater(key: string): void {
    const slot = this.slots.get(key);
    if (!slot || slot.inFlight.size > 0) return;
    if (slot.idle) clearTimeout(slot.idle);
    slot.idle = setTimeout(() => void this.drop(key), IDLE_MS).unref();
  }

  async endSession(session: string): Promise<void> {
    await Promise.all([...this.slots.keys()].filter((k) => k.startsWith(`${session}\0`)).map((k) => this.drop(k)));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots.keys()].map((k) => this.drop(k)));
    await Promise.all([...this.running].map((s) => s.close()));
    await this.gateway?.close();
  }

  /** The egress gateway: injected, or created on first use by a networked server. */
  private gateway: EgressGateway | undefined;
  private egressProvider(): EgressProvider {
    const injected = this.options.shared?.egress ?? this.options.egress;
    if (injected) return injected;
    this.gateway ??= ownEgressGateway(this.docker, this.serverId, this.options.logger);
    return this.gateway;
  }

  /** `unit`: the key's session-and-tool prefix, shared by every server of that tool in that session. */
  private slotFor(unit: string, key: string, request: ServerRequest): Slot {
    // A call that raced close() (its server stopped by it) must not start a server nobody will stop.
    if (this.closed) throw new WardenError("E_CANCELLED", "the mcp-server backend is shutting down");
    const existing = this.slots.get(key);
    if (existing) return existing;
    // A server of this session and tool started under other grants, secrets, files or image is superseded:
    // stopped now, not at its idle timeout (an untrusted server may act on its own between calls, with what it
    // was given).
    for (const other of [...this.slots.keys()]) if (other !== key && other.startsWith(unit)) void this.drop(other);
    const actor = request.actor ?? "unknown";
    const total = this.options.maxServers ?? DEFAULT_MAX_SERVERS;
    const mine = this.options.maxServersPerIdentity ?? DEFAULT_MAX_SERVERS_PER_IDENTITY;
    if (this.slots.size >= total)
      throw new WardenError("E_BUSY", `busy: ${this.slots.size} hosted MCP servers are running (the most this server runs at once); retry when a session ends`);
    if ([...this.slots.values()].filter((s) => s.actor === actor).length >= mine)
      throw new WardenError("E_BUSY", `busy: ${actor} already has ${mine} hosted MCP servers running (one per session and server); end a session or retry later`);
    const slot: Slot = { server: this.start(request), inFlight: new Set(), actor };
    this.slots.set(key, slot);
    // A server that fails to start or dies is forgotten: the next call starts a new one.
    slot.server.then(
      (s) => void s.gone.then(() => this.slots.get(key) === slot && this.slots.delete(key)),
      () => this.slots.get(key) === slot && this.slots.delete(key),
    );
    return slot;
  }

  private async drop(key: string): Promise<void> {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    if (slot.idle) clearTimeout(slot.idle);
    const server = await slot.server.catch(() => null);
    if (server) await server.close();
  }

  private async start(request: ServerRequest): Promise<HostedServer> {
    const { tool } = request;
    const image = await inspectToolImage(this.docker, await this.approvedImage(tool));
    const egress = tool.network ? await this.egressFor() : undefined;
    const base = containerSpec({ tool, env: request.env, serverId: this.serverId, callId: tool.lifecycle === "call" ? request.callId : "session", image, launch: directLaunch, ...(egress ? { egress } : {}), runtime: this.options.runtime });
    // Long-lived: stdin stays open for every JSON-RPC request; the image is the approved ID, never the tag.
    const spec: Dockerode.ContainerCreateOptions = { ...base, StdinOnce: false };
    const startup = AbortSignal.timeout(STARTUP_BUDGET_MS);
    const server = await HostedServer.start(
      {
        docker: this.docker,
        spec,
        egressNetwork: egress?.networkName,
        // No resolver for a networked server either: Docker's embedded DNS answers PTR with other containers' ids.
        afterStart: egress && egress.localEngine !== false ? ({ pid }) => blockEmbeddedDns(pid) : undefined,
        maxLineBytes: tool.limits.outputBytes + 64 * 1024,
        logger: this.options.logger,
        name: tool.name,
        version: this.options.version ?? "0",
      },
      startup,
    );
    this.running.add(server);
    void server.gone.then(() => this.running.delete(server));
    server.onDefinitions((defs) => this.emitDefinitions(tool, defs));
    this.emitDefinitions(tool, server.definitions);
    if (egress && server.ip)
      await this.bindEgress(server, request).catch(async (err: unknown) => {
        await server.close();
        throw err;
      });
    return server;
  }

  /** SPEC §15 / the image binding: the tag must still name the image that was approved. */
  private async approvedImage(tool: McpServerSandboxTool): Promise<string> {
    const info = await engineCall("inspect image", this.docker.getImage(tool.image!).inspect());
    if (tool.imageId && info.Id !== tool.imageId)
      throw new WardenError("E_NOT_APPROVED", `the image ${tool.image} of ${tool.name} was rebuilt since it was approved (approved ${tool.imageId.slice(0, 19)}, now ${info.Id.slice(0, 19)}); review and run: warden approve ${tool.name}`);
    return info.Id;
  }

  private async egressFor(): Promise<EgressAttachment> {
    return this.egressProvider().ready();
  }

  /** The proxy binds the container's address for its life; each exchange is charged to the calls in flight. */
  private async bindEgress(server: HostedServer, request: ExecuteRequest): Promise<void> {
    const ip = server.ip!;
    const egress = this.egressProvider();
    await egress.bind(ip, {
      callId: `server:${server.id.slice(0, 12)}`,
      tool: request.tool.name,
      // The grants in force when the server started (the call that started it was admitted with them); a server
      // lives for its session, so a grant revoked later takes effect with the next session's server.
      grants: [...(request.network ?? [])],
      onEgress: (record) => {
        for (const host of server.calls.values()) host.recordEgress(record);
      },
    });
    void server.gone.then(() => egress.unbind(ip)).catch((err: unknown) => this.options.logger?.warn({ err: toWardenError(err).message }, "egress unbind of a stopped server failed"));
  }

  private async callOn(slot: Slot, server: HostedServer, request: ServerRequest, name: string, pinned: string): Promise<ExecuteOutcome> {
    const { tool } = request;
    // The rug-pull check, per call and per container: the server must still list this tool exactly as approved.
    const live = server.live.get(name);
    if (live !== pinned)
      return failure(
        "E_NOT_APPROVED",
        live === undefined
          ? `${tool.name}: the server no longer lists the tool "${name}"; review and run: warden approve ${tool.name}`
          : `${tool.name}: the server changed the definition of "${name}" since it was approved; review and run: warden approve ${tool.name}`,
      );
    const controller = new AbortController();
    const relay = (): void => controller.abort(request.signal.reason);
    request.signal.addEventListener("abort", relay, { once: true });
    const deadline = setTimeout(
      () => controller.abort(new WardenError("E_TIMEOUT", `${tool.name} exceeded its ${tool.limits.timeoutMs} ms time limit`)),
      tool.limits.timeoutMs,
    );
    const budget = new NotificationBudget((what) =>
      request.host.log("warning", `mcp-warden: further ${what} notifications of this call were dropped (at most ${MAX_NOTIFICATIONS_PER_CALL} logs and ${MAX_PROGRESS_PER_CALL} progress updates a call)`),
    );
    const removeLog = server.addLogSink((level, message) => {
      const text = budget.log(message);
      if (text !== null) request.host.log(level, text);
    });
    server.calls.set(request.callId, request.host);
    const since = Date.now();
    let requestId: string | number | undefined;
    try {
      const input = (request.input ?? {}) as Record<string, unknown>;
      const result = await server.call(name, input, {
        signal: controller.signal,
        onRequestId: (id) => (requestId = id),
        onProgress: (done, total) => budget.progressAllowed() && request.host.progress(done, total),
      });
      // The proxy's records reach warden on another stream than the result: all of this call's first.
      if (tool.network && server.ip) await this.egressProvider().flush(server.ip, since);
      return outcomeOf(result, `${tool.name}/${name}`, tool.limits.outputBytes);
    } catch (err) {
      if (controller.signal.aborted) {
        // notifications/cancelled went out with the abort; the server gets a short grace to answer (it then
        // stopped that work: SPEC §15), else its container goes — the server cannot be trusted to stop.
        setTimeout(() => {
          if (requestId !== undefined && server.wasAnswered(requestId)) return;
          server.end(new WardenError("E_CANCELLED", `the MCP server of ${tool.name} was stopped after a cancelled call it did not answer`));
        }, CANCEL_GRACE_MS).unref();
        return stopped(controller.signal, tool);
      }
      if (server.ended) return slotFailure(slot, server.failure.toPayload());
      return { ok: false, error: toWardenError(err, "E_TOOL_FAILED").toPayload() };
    } finally {
      clearTimeout(deadline);
      removeLog();
      server.calls.delete(request.callId);
      request.signal.removeEventListener("abort", relay);
    }
  }
}

function stopped(signal: AbortSignal, tool: SandboxTool): ExecuteOutcome {
  return stoppedOutcome(signal, `the call of ${tool.name} was cancelled`);
}

/** The server's start, bounded by the call's cancellation and the start-up budget. */
async function raceSignal<T>(p: Promise<T>, cancel: AbortSignal, startup: AbortSignal, tool: SandboxTool): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onCancel = (): void => reject(cancel.reason instanceof WardenError ? cancel.reason : new WardenError("E_CANCELLED", `the call of ${tool.name} was cancelled while its server started`));
    const onStartup = (): void => reject(new WardenError("E_TIMEOUT", `the MCP server of ${tool.name} did not start within ${STARTUP_BUDGET_MS} ms`));
    cancel.addEventListener("abort", onCancel, { once: true });
    startup.addEventListener("abort", onStartup, { once: true });
    p.then(resolve, reject).finally(() => {
      cancel.removeEventListener("abort", onCancel);
      startup.removeEventListener("abort", onStartup);
    });
  });
}

/** The policy a server is started with (effective network grants, granted secrets), as a key part. */
function policyFingerprint(request: ExecuteRequest): string {
  const env = Object.entries(request.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const grants = [...(request.network ?? [])].map((g) => JSON.stringify(g)).sort();
  return createHash("sha256").update(JSON.stringify([env, grants])).digest("hex").slice(0, 32);
}
