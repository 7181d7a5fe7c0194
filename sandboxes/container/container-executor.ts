/**
 * The container backend (SPEC §4): every call runs in a single-use,
 * least-privilege container — taken warm from the pool when one is ready,
 * created cold otherwise — and the container is removed after the call.
 */
import type Dockerode from "dockerode";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { authorizeEgress } from "../../src/capabilities/network/index.js";
import { toWardenError, WardenError } from "../../src/errors.js";
import { LIMIT_DEFAULTS } from "../../src/manifest/schema.js";
import type { ContainerSandboxTool, ExecuteOutcome, ExecuteRequest, Executor, SandboxTool } from "../executor.js";

/** A request this backend runs: its tool is a container unit. */
type ContainerRequest = ExecuteRequest & { tool: ContainerSandboxTool };
import { blockEmbeddedDns } from "../docker/container-dns.js";
import { containerSpec, type EgressAttachment } from "../docker/container-spec.js";
import { gatedCommand } from "./gate.js";
import type { AuthorizeEgress } from "../docker/egress-proxy.js";
import { EgressGateway } from "../docker/egress-gateway.js";
import { pinnedImage } from "../docker/image-id.js";
import { defaultDocker } from "../docker/engine.js";
import { inspectToolImage } from "../docker/image-config.js";
import { failure, stoppedOutcome } from "../outcome/index.js";
import { SandboxPool, type PoolStats } from "./pool.js";
import { reapLeftovers } from "../docker/reaper.js";
import type { DockerShared } from "../docker/docker-shared.js";
import { runCall } from "./run-call.js";
import { removeContainer } from "../docker/sandbox.js";
import { startSandbox, type StartedSandbox } from "./started-sandbox.js";
import type { ContainerRuntime } from "../docker/runtime-spec.js";

export interface ContainerExecutorOptions {
  /** A shared egress gateway (its owner closes it); default: one of this executor's own. */
  egress?: EgressGateway;
  docker?: Dockerode;
  /** Warm containers always kept per tool (the floor); 0 disables the pool. Default 1. */
  poolSize?: number;
  /** Warm containers one tool may grow to when its calls arrive faster than one container starts. Default 8 (never below poolSize). */
  poolMax?: number;
  /** Warm containers (idle + starting) across all tools. Default 16. */
  maxIdle?: number;
  /** Sizing window and shrink period of the pool (pool-sizing.ts); tests shorten them. Defaults 10 s and 1 s. */
  poolWindowMs?: number;
  poolShrinkIntervalMs?: number;
  logger?: Logger;
  /**
   * The server's Docker bundle (src/runtime): engine, server id, egress gateway and reaper, shared with the other
   * Docker backends. Without it (tests, standalone use) the executor makes its own from the options below.
   */
  shared?: DockerShared;
  /** Labels every object this server creates; the reaper spares live servers' objects. Default: random. */
  serverId?: string;
  proxy?: {
    /** The egress rule; default: `authorizeEgress` from src/capabilities/network (the one ctx.fetch uses). */
    authorize?: AuthorizeEgress;
    /** Host firewall for the egress bridge. Default true; false only in tests that need no host isolation. */
    firewall?: boolean;
  };
  /** OCI runtime of every container (config `container.runtime`, SPEC §16). Default runc. */
  runtime?: ContainerRuntime;
  /** Reaper period; 0 disables the periodic pass (the startup pass always runs). Default 60 s. */
  reapIntervalMs?: number;
}

/** The container executor, plus its pool's counters (tests and the bench read them). */
export interface ContainerExecutor extends Executor {
  poolStats(): PoolStats;
}

export function createContainerExecutor(options: ContainerExecutorOptions = {}): ContainerExecutor {
  return new DockerContainerExecutor(options);
}

class DockerContainerExecutor implements ContainerExecutor {
  readonly runtime = "container" as const;
  private readonly docker: Dockerode;
  private readonly serverId: string;
  private readonly pool: SandboxPool;
  private readonly egress: EgressGateway;
  private readonly active = new Set<AbortController>();
  private readonly cleanups = new Set<Promise<unknown>>();
  private readonly reapTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ContainerExecutorOptions) {
    this.docker = options.shared?.docker ?? options.docker ?? defaultDocker();
    this.serverId = options.shared?.serverId ?? options.serverId ?? randomBytes(6).toString("hex");
    // One egress gateway (network, proxy, host firewall rules) per server: injected by src/runtime when
    // several Docker backends share it (container and mcp-server tools), made here otherwise.
    this.egress =
      options.shared?.egress ??
      options.egress ??
      new EgressGateway({
        docker: this.docker,
        serverId: this.serverId,
        authorize: options.proxy?.authorize ?? authorizeEgress,
        logger: options.logger,
        firewall: options.proxy?.firewall,
      });
    const perTool = options.poolSize ?? 1;
    this.pool = new SandboxPool({
      perTool,
      perToolMax: Math.max(perTool, options.poolMax ?? 8),
      maxIdle: options.maxIdle ?? 16,
      windowMs: options.poolWindowMs,
      shrinkIntervalMs: options.poolShrinkIntervalMs,
      start: (tool, env) => this.startFor(tool, env, "pool"),
      onError: (tool, err) => options.logger?.warn({ tool: tool.name, err: toWardenError(err).message }, "warm container failed to start"),
    });
    // A shared bundle brings the server's one reaper loop; standalone, this executor runs its own.
    if (!options.shared) {
      this.track(this.reap());
      const every = options.reapIntervalMs ?? 60_000;
      if (every > 0) this.reapTimer = setInterval(() => this.track(this.reap()), every).unref();
    }
  }

  poolStats(): PoolStats {
    return this.pool.stats();
  }

  async prepare(tool: SandboxTool, env: Record<string, string> = {}): Promise<void> {
    if (this.closed || tool.runtime !== "container") return;
    try {
      await this.pool.fill(tool, env);
    } catch (err) {
      this.options.logger?.warn({ tool: tool.name, err: toWardenError(err).message }, "prepare failed");
    }
  }

  async execute(outer: ExecuteRequest): Promise<ExecuteOutcome> {
    if (this.closed) return failure("E_SANDBOX_UNAVAILABLE", "the container backend is closed");
    const { tool } = outer;
    if (tool.runtime !== "container" || !tool.image)
      return failure("E_SANDBOX_UNAVAILABLE", `tool ${tool.name} is not a container tool (no image)`);
    const request: ContainerRequest = { ...outer, tool };
    // Already cancelled: run nothing (and do not waste a warm container).
    if (request.signal.aborted) return stopOutcome(request.signal, tool);
    const deadlineAt = Date.now() + (tool.limits.timeoutMs ?? LIMIT_DEFAULTS.timeoutMs);
    const abort = new AbortController();
    const onOuterAbort = (): void => abort.abort(request.signal.reason);
    request.signal.addEventListener("abort", onOuterAbort, { once: true });
    this.active.add(abort);
    let sandbox: StartedSandbox | undefined;
    try {
      sandbox = await this.acquire(request, abort.signal, deadlineAt);
      if (!sandbox) return stopOutcome(abort.signal, tool);
      return await this.runBound(sandbox, { ...request, signal: abort.signal }, deadlineAt);
    } catch (err) {
      return { ok: false, error: toWardenError(err, "E_SANDBOX_UNAVAILABLE").toPayload() };
    } finally {
      request.signal.removeEventListener("abort", onOuterAbort);
      this.active.delete(abort);
      if (sandbox) this.track(removeContainer(sandbox.container));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reapTimer) clearInterval(this.reapTimer);
    for (const abort of this.active)
      abort.abort(new WardenError("E_CANCELLED", "the container backend is shutting down"));
    await this.pool.close();
    while (this.cleanups.size > 0) await Promise.allSettled([...this.cleanups]);
    if (!this.options.egress && !this.options.shared) await this.egress.close(); // an injected gateway is closed by its owner
  }

  /** A warm container if one matches, else a cold start bounded by the deadline and cancellation. */
  private async acquire(request: ContainerRequest, signal: AbortSignal, deadlineAt: number): Promise<StartedSandbox | undefined> {
    const warm = this.pool.take(request.tool, request.env);
    if (warm) return warm;
    const claimed = await this.claimStarting(request, signal, deadlineAt);
    if (claimed) return claimed;
    if (signal.aborted || Date.now() >= deadlineAt) return undefined;
    const starting = this.startFor(request.tool, request.env, request.callId);
    const stopped = new Promise<"stopped">((resolve) => {
      const timer = setTimeout(() => resolve("stopped"), Math.max(0, deadlineAt - Date.now()));
      signal.addEventListener("abort", () => resolve("stopped"), { once: true });
      void starting.finally(() => clearTimeout(timer)).catch(() => {});
    });
    const winner = await Promise.race([starting, stopped]);
    if (winner !== "stopped") return winner;
    // Too late: whatever the engine still creates is removed as soon as it exists.
    this.track(starting.then((s) => removeContainer(s.container), () => {}));
    return undefined;
  }

  /** A pool container already starting, if one is not promised to another call; bounded by the deadline and cancellation. */
  private async claimStarting(request: ContainerRequest, signal: AbortSignal, deadlineAt: number): Promise<StartedSandbox | undefined> {
    const giveUp = new AbortController();
    const timer = setTimeout(() => giveUp.abort(), Math.max(0, deadlineAt - Date.now()));
    const onAbort = (): void => giveUp.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.pool.claim(request.tool, request.env, giveUp.signal);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  private async runBound(sandbox: StartedSandbox, request: ContainerRequest, deadlineAt: number): Promise<ExecuteOutcome> {
    const ip = sandbox.ip;
    // A warm container was labelled before its call existed (warden.call=pool): this line ties the two.
    this.options.logger?.debug({ callId: request.callId, tool: request.tool.name, container: sandbox.id.slice(0, 12) }, "container call");
    if (request.tool.network && !ip) return failure("E_SANDBOX_UNAVAILABLE", `container of ${request.tool.name} has no egress address`);
    if (ip)
      await this.egress.bind(ip, {
        callId: request.callId,
        tool: request.tool.name,
        // Policy arrives with the call, like ctx.fetch's: the effective grants at admission, and the call's own host
        // records every exchange (same per-call bound as ctx.fetch).
        grants: [...(request.network ?? [])],
        onEgress: (record) => request.host.recordEgress(record),
      });
    try {
      return await runCall(sandbox, request, deadlineAt);
    } finally {
      // Resolves once every egress record of the call was delivered; rejects (fail closed) when that is unsure.
      if (ip) await this.egress.unbind(ip);
    }
  }

  private async startFor(tool: ContainerSandboxTool, env: Record<string, string>, callId: string): Promise<StartedSandbox> {
    const egress: EgressAttachment | undefined = tool.network ? await this.egress.ready() : undefined;
    // Approval binding (image-id.ts): refuse a rebuilt tag; then inspect that very image ID (its VOLUME paths, its command).
    const pinned = await pinnedImage(this.docker, tool);
    const image = await inspectToolImage(this.docker, pinned);
    const spec = containerSpec({ tool, env, serverId: this.serverId, egress, callId, image, launch: gatedCommand, runtime: this.options.runtime });
    // No resolver in a networked container (container-dns.ts); tests without the host firewall skip it too.
    const closeDns = egress && egress.localEngine !== false && this.options.proxy?.firewall !== false ? ({ pid }: { pid: number }) => blockEmbeddedDns(pid) : undefined;
    return startSandbox(this.docker, spec, egress?.networkName, closeDns);
  }

  private async reap(): Promise<void> {
    try {
      const report = await reapLeftovers(this.docker, { serverId: this.serverId });
      if (report.containers.length + report.networks.length + report.firewallRules > 0)
        this.options.logger?.info({ ...report }, "reaped leftovers of a dead warden server");
    } catch (err) {
      this.options.logger?.debug({ err: toWardenError(err).message }, "reaper pass skipped");
    }
  }

  private track(p: Promise<unknown>): void {
    this.cleanups.add(p);
    void p.finally(() => this.cleanups.delete(p)).catch(() => {});
  }
}

function stopOutcome(signal: AbortSignal, tool: SandboxTool): ExecuteOutcome {
  if (signal.aborted) return stoppedOutcome(signal);
  return failure("E_TIMEOUT", `tool ${tool.name} exceeded its ${tool.limits.timeoutMs ?? LIMIT_DEFAULTS.timeoutMs} ms time limit while its container was starting`);
}
