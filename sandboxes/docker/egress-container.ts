/**
 * `container` egress mode (issue 13 §2): the egress proxy runs as a hardened container of warden's own
 * (image warden/egress:1, egress-proxy-main.ts) where the tool containers run, so networked tools work on a
 * remote engine or Docker-in-Docker too. It sits on the internal tool network at a fixed address (tools'
 * HTTP(S)_PROXY) and on an outbound network of its own; warden drives it over its attached stdio
 * (egress-control.ts), so no network path from the engine back to warden is needed.
 *
 * Fail closed: a proxy that dies, breaks the protocol or does not ack in time is killed; every call bound
 * at that moment fails with E_SANDBOX_UNAVAILABLE when it ends (some of its records may be lost); the proxy
 * is started again on the next networked call (at once while hosted servers are bound), at most
 * RESTARTS_MAX times a minute, after which networked calls are refused until the minute has passed.
 */
import type Dockerode from "dockerode";
import type { Logger } from "pino";
import { WardenError } from "../../src/errors.js";
import type { EgressAttachment } from "./container-spec.js";
import { EgressChannel } from "./egress-channel.js";
import { EGRESS_PROXY_PORT } from "./egress-control.js";
import {
  egressBridgeName,
  egressNetworkName,
  ensureNetwork,
  fixedProxyAddress,
  outboundBridgeName,
  outboundNetworkName,
  type NetworkInfo,
} from "./egress-network.js";
import type { CallBinding } from "./egress-proxy.js";
import { engineCall, engineIsLocal, isNotFound } from "./engine.js";
import { containerFirewallRules, installRules, removeRules, type Rule } from "./host-firewall.js";
import { LABEL, serverLabels } from "./labels.js";
import { removeContainer, startContainer, type StartedContainer } from "./sandbox.js";
import { SECCOMP_PROFILE_JSON } from "./seccomp-profile.js";

export const EGRESS_IMAGE = "warden/egress:1";
export const RESTARTS_MAX = 5;
const RESTART_WINDOW_MS = 60_000;
const READY_TIMEOUT_MS = 20_000;
const ACK_TIMEOUT_MS = 5_000;
const PROXY_MEMORY_BYTES = 256 * 1024 * 1024;

export interface ContainerEgressOptions {
  docker: Dockerode;
  serverId: string;
  logger?: Logger;
  /** Host firewall rules; only ever installed with a local engine (a remote engine's host is not ours). Default true. */
  firewall?: boolean;
  /** Extra addresses/CIDRs the proxy always refuses (config `container.egress.refuse`). */
  refuse?: string[];
  image?: string;
  ackTimeoutMs?: number;
}

interface Networks {
  tool: NetworkInfo;
  out: NetworkInfo;
  proxyIp: string;
}

/** A binding as warden keeps it: records are bounded here (the proxy sends them all), and `broken` once its proxy died. */
interface Entry {
  binding: CallBinding;
  broken: boolean;
  /** When a proxy last died while this binding was on it (ms epoch; 0: never). */
  lostAt: number;
}

interface Live {
  started: StartedContainer;
  channel: EgressChannel;
}

export function egressProxyName(serverId: string): string {
  return `warden-egress-proxy-${serverId}`;
}

export class ContainerEgress {
  private networks: Promise<Networks> | undefined;
  private live: Promise<Live> | undefined;
  private current: Live | undefined;
  private readonly entries = new Map<string, Entry>();
  private readonly starts: number[] = [];
  private readonly cleanups = new Set<Promise<unknown>>();
  private rules: Rule[] | undefined;
  private closed = false;
  private readonly firewall: boolean;

  constructor(private readonly options: ContainerEgressOptions) {
    this.firewall = options.firewall !== false && engineIsLocal(options.docker);
  }

  async ready(): Promise<EgressAttachment> {
    const nets = await this.setupNetworks();
    await this.ensureProxy();
    return { networkName: nets.tool.name, proxyUrl: `http://${nets.proxyIp}:${EGRESS_PROXY_PORT}`, localEngine: engineIsLocal(this.options.docker) };
  }

  async bind(ip: string, binding: CallBinding): Promise<void> {
    const live = await this.ensureProxy();
    const entry: Entry = { binding, broken: false, lostAt: 0 };
    this.entries.set(ip, entry);
    try {
      await live.channel.command({ op: "bind", ip, callId: binding.callId, tool: binding.tool, grants: binding.grants });
    } catch (err) {
      if (this.entries.get(ip) === entry) this.entries.delete(ip);
      throw err;
    }
  }

  /**
   * Resolves once the proxy acked: every record of the binding has been delivered to `onEgress` before.
   * Rejects (E_SANDBOX_UNAVAILABLE) when that cannot be promised: the proxy died during the binding, or
   * did not ack in time (it is then killed).
   */
  async unbind(ip: string): Promise<void> {
    const entry = this.entries.get(ip);
    if (!entry) return;
    try {
      const live = this.current;
      // Also after a restart: the new proxy was given the binding again and must drop it.
      if (live && !live.channel.broken) await live.channel.command({ op: "unbind", ip });
      if (entry.broken)
        throw new WardenError("E_SANDBOX_UNAVAILABLE", "egress proxy unavailable: it stopped during the call, so its egress records may be incomplete; the call fails closed");
    } finally {
      if (this.entries.get(ip) === entry) this.entries.delete(ip);
    }
  }

  /**
   * For a binding that outlives its calls (a hosted server): resolves once every record the proxy wrote so
   * far was delivered; rejects (E_SANDBOX_UNAVAILABLE) when a proxy died while `ip` was bound after `since`.
   */
  async flush(ip: string, since: number): Promise<void> {
    const entry = this.entries.get(ip);
    const lost = (): boolean => entry !== undefined && entry.lostAt >= since;
    if (!lost() && this.current && !this.current.channel.broken) await this.current.channel.command({ op: "sync" });
    if (lost() || (entry && !this.current))
      throw new WardenError("E_SANDBOX_UNAVAILABLE", "egress proxy unavailable: it stopped during the call, so its egress records may be incomplete; the call fails closed");
  }

  async close(): Promise<void> {
    this.closed = true;
    const live = this.current ?? (await this.live?.catch(() => undefined));
    this.current = undefined;
    this.live = undefined;
    if (live) {
      live.channel.break("warden is closing");
      live.started.stdio.end();
      await removeContainer(live.started.container);
    }
    await Promise.allSettled([...this.cleanups]);
    if (this.rules) await removeRules(this.rules).catch(() => {});
    this.rules = undefined;
    const nets = await this.networks?.catch(() => undefined);
    this.networks = undefined;
    if (nets) {
      for (const name of [nets.out.name, nets.tool.name])
        await engineCall("remove network", this.options.docker.getNetwork(name).remove()).catch(() => {});
    }
  }

  private setupNetworks(): Promise<Networks> {
    if (!this.networks) {
      const attempt = this.createNetworks();
      this.networks = attempt;
      attempt.catch(async () => {
        if (this.networks === attempt) this.networks = undefined;
        if (this.rules) await removeRules(this.rules).catch(() => {});
        this.rules = undefined;
      });
    }
    return this.networks;
  }

  private async createNetworks(): Promise<Networks> {
    const { docker, serverId } = this.options;
    const bridge = egressBridgeName(serverId);
    const outBridge = outboundBridgeName(serverId);
    // With our firewall, tool↔tool stays off (Docker's icc) and only tool↔proxy is ACCEPTed before it.
    // Without (a remote engine), icc must be on for tools to reach the proxy container at all; the
    // engine's operator closes tool↔tool with the rules of docs/deployment.md.
    const tool = await ensureNetwork(docker, { name: egressNetworkName(serverId), bridge, serverId, internal: true, icc: !this.firewall, pinnedSubnet: true });
    const out = await ensureNetwork(docker, { name: outboundNetworkName(serverId), bridge: outBridge, serverId, internal: false, icc: true });
    const proxyIp = fixedProxyAddress(tool.subnet, tool.gateway);
    if (this.firewall) {
      this.rules = containerFirewallRules({ serverId, bridge, outBridge, proxyIp, proxyPort: EGRESS_PROXY_PORT });
      await installRules(this.rules);
    } else {
      this.options.logger?.warn(
        { network: tool.name },
        "egress: no host firewall rules (remote engine or disabled): tool containers on the egress network can reach one another unless the engine's operator adds the rules of docs/deployment.md",
      );
    }
    return { tool, out, proxyIp };
  }

  private ensureProxy(): Promise<Live> {
    if (this.closed) return Promise.reject(new WardenError("E_SANDBOX_UNAVAILABLE", "the egress gateway is closed"));
    if (!this.live) {
      const attempt = this.startProxy();
      this.live = attempt;
      attempt.catch((err: unknown) => {
        if (this.live === attempt) this.live = undefined;
        this.options.logger?.error({ err: (err as Error).message }, "egress proxy container failed to start");
      });
    }
    return this.live;
  }

  private async startProxy(): Promise<Live> {
    const nets = await this.setupNetworks();
    const now = Date.now();
    while (this.starts.length > 0 && now - this.starts[0]! > RESTART_WINDOW_MS) this.starts.shift();
    if (this.starts.length >= RESTARTS_MAX)
      throw new WardenError("E_SANDBOX_UNAVAILABLE", `egress proxy unavailable: its container stopped ${this.starts.length} times within a minute; networked calls are refused until it has stayed down for a minute`);
    this.starts.push(now);
    const { docker, serverId } = this.options;
    const name = egressProxyName(serverId);
    // A dead predecessor still holds the fixed address (and the name).
    await removePredecessor(docker, name);
    let started: StartedContainer | undefined;
    let onReady: () => void = () => {};
    const readyLine = new Promise<void>((resolve) => (onReady = resolve));
    const channel = new EgressChannel({
      ackTimeoutMs: this.options.ackTimeoutMs ?? ACK_TIMEOUT_MS,
      write: (line) => {
        if (!started) throw new Error("not started");
        started.stdio.write(line);
      },
      onReady: () => onReady(),
      onEgress: (ip, callId, record) => this.deliver(ip, callId, record),
      onStderr: (line) => this.options.logger?.debug({ line }, "egress proxy"),
      onBroken: (reason) => this.down(live, reason),
    });
    const live: Live = { started: undefined as unknown as StartedContainer, channel };
    started = await startContainer(docker, this.spec(nets, name), {
      onData: (chunk) => channel.push(chunk),
      onEnd: () => channel.break("its container exited"),
      beforeStart: async (container) => {
        await engineCall("connect network", docker.getNetwork(nets.out.name).connect({ Container: container.id }));
      },
    });
    live.started = started;
    try {
      const timeout = new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(new WardenError("E_SANDBOX_UNAVAILABLE", `the egress proxy container did not start within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
        void readyLine.finally(() => clearTimeout(timer));
        void started!.ended.then(() => {
          clearTimeout(timer);
          reject(new WardenError("E_SANDBOX_UNAVAILABLE", "the egress proxy container exited before it was ready (is warden/egress:1 built? `warden images build`)"));
        });
      });
      await Promise.race([readyLine, timeout]);
      if (this.closed) throw new WardenError("E_SANDBOX_UNAVAILABLE", "the egress gateway is closed");
      this.current = live;
      // Bindings that outlived a dead predecessor (hosted servers, calls in flight) are given to this one.
      for (const [ip, entry] of this.entries)
        await channel.command({ op: "bind", ip, callId: entry.binding.callId, tool: entry.binding.tool, grants: entry.binding.grants });
      this.options.logger?.info({ network: nets.tool.name, proxy: `${nets.proxyIp}:${EGRESS_PROXY_PORT}`, mode: "container" }, "egress proxy ready");
      return live;
    } catch (err) {
      channel.break("start failed");
      await removeContainer(started.container);
      throw err;
    }
  }

  private deliver(ip: string, callId: string, record: Parameters<CallBinding["onEgress"]>[0]): void {
    const entry = this.entries.get(ip);
    // A record of a binding that has ended (or of another call on a reused address) is nobody's.
    if (!entry || entry.binding.callId !== callId) return;
    // Unbounded here as in the in-process proxy: the per-call bound is the call's ToolHost's.
    entry.binding.onEgress(record);
  }

  /** The proxy stopped or broke its protocol: kill it, fail its bindings closed, start again if someone needs it. */
  private down(live: Live, reason: string): void {
    // A proxy that never became current failed its start: ensureProxy's caller gets that error.
    if (this.current !== live || this.closed) return;
    this.current = undefined;
    this.live = undefined;
    const now = Date.now();
    for (const entry of this.entries.values()) {
      entry.broken = true;
      entry.lostAt = now;
    }
    this.options.logger?.error({ reason }, "egress proxy container down; calls bound to it fail closed");
    // Hosted servers stay bound for their whole life: give them a proxy again now, not at their next call. The
    // start removes the dead one first (by name: it holds the fixed address); a second removal racing it here
    // made the engine answer 409 "removal in progress" and the restart was given up (seen under load in CI).
    if (this.entries.size > 0) this.track(this.ensureProxy().catch(() => {}));
    else if (live.started) this.track(removeContainer(live.started.container));
  }

  private track(p: Promise<unknown>): void {
    this.cleanups.add(p);
    void p.finally(() => this.cleanups.delete(p)).catch(() => {});
  }

  /** Hardened like a tool container (container-spec.ts): it handles hostile traffic all day. */
  private spec(nets: Networks, name: string): Dockerode.ContainerCreateOptions {
    const refuse = [nets.tool.subnet, nets.tool.gateway, nets.out.gateway, ...(this.options.refuse ?? [])];
    return {
      name,
      Image: this.options.image ?? EGRESS_IMAGE,
      Cmd: ["--listen", `${nets.proxyIp}:${EGRESS_PROXY_PORT}`, "--refuse", refuse.join(",")],
      User: "65534:65534",
      WorkingDir: "/tmp",
      Hostname: "egress",
      Env: ["NODE_ENV=production"],
      Labels: { ...serverLabels(this.options.serverId), [LABEL.role]: "egress-proxy" },
      OpenStdin: true,
      StdinOnce: false,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      // Its fixed address on the tool network (the tools' HTTP(S)_PROXY); the outbound network joins before start.
      NetworkingConfig: { EndpointsConfig: { [nets.tool.name]: { IPAMConfig: { IPv4Address: nets.proxyIp } } } },
      HostConfig: {
        NetworkMode: nets.tool.name,
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=4m" },
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges:true", `seccomp=${SECCOMP_PROFILE_JSON}`],
        Memory: PROXY_MEMORY_BYTES,
        MemorySwap: PROXY_MEMORY_BYTES,
        NanoCpus: 1e9,
        PidsLimit: 64,
        // Two sockets per exchange: more than a tool's 256.
        Ulimits: [{ Name: "nofile", Soft: 4096, Hard: 4096 }],
        IpcMode: "private",
        Privileged: false,
        Devices: [],
        Mounts: [],
        LogConfig: { Type: "none", Config: {} },
        AutoRemove: false,
        RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      },
    };
  }
}

/** Removes the proxy container of this name, waiting out a removal already in progress (409); gone (404) is done. */
async function removePredecessor(docker: Dockerode, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await engineCall("remove container", docker.getContainer(name).remove({ force: true }));
      return;
    } catch (err) {
      if (isNotFound(err)) return;
      const e = err as { statusCode?: number; details?: { status?: number } };
      const inProgress = e?.statusCode === 409 || e?.details?.status === 409;
      if (!inProgress || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
