/**
 * Removes what a crashed warden left on the engine: containers and networks
 * labelled `warden.server` whose server is not alive, and that server's host
 * firewall rules. Anything without warden's labels is never touched.
 *
 * Liveness rule (the lease label is `<hostname>/<pid>/<start tick>`):
 * - our own server id is alive;
 * - a lease from THIS host is alive iff /proc/<pid> exists and its start tick
 *   matches (a recycled pid does not keep a dead server's leftovers alive);
 * - a lease from ANOTHER host (a shared engine) is assumed alive — we cannot
 *   see its processes — unless `reapForeignHosts` is set by the operator;
 * - an object with `warden.server` but no readable lease is a leftover.
 */
import type Dockerode from "dockerode";
import { hostname } from "node:os";
import { engineCall } from "./engine.js";
import { firewallOwners, removeFirewallOf } from "./host-firewall.js";
import { LABEL, processStartTick } from "./labels.js";

export interface ReapOptions {
  /** This server: never reaped. */
  serverId: string;
  reapForeignHosts?: boolean;
  /** Also delete host firewall rules of dead servers (needs root; default true). */
  firewall?: boolean;
}

export interface ReapReport {
  containers: string[];
  networks: string[];
  firewallRules: number;
}

export function leaseIsAlive(lease: string | undefined, options: ReapOptions): boolean {
  const m = /^(.*)\/(\d+)\/(\d+|\?)$/.exec(lease ?? "");
  if (!m) return false;
  const [, host, pid, tick] = m;
  if (host !== hostname()) return !options.reapForeignHosts;
  const current = processStartTick(Number(pid));
  return current !== null && (tick === "?" || current === tick);
}

export async function reapLeftovers(docker: Dockerode, options: ReapOptions): Promise<ReapReport> {
  const report: ReapReport = { containers: [], networks: [], firewallRules: 0 };
  const dead = (labels: Record<string, string> | undefined): boolean => {
    const server = labels?.[LABEL.server];
    if (!server || server === options.serverId) return false;
    return !leaseIsAlive(labels[LABEL.lease], options);
  };
  const deadServers = new Set<string>();

  const containers = await engineCall("list containers", docker.listContainers({ all: true, filters: { label: [LABEL.server] } }));
  for (const c of containers) {
    if (!dead(c.Labels)) continue;
    deadServers.add(c.Labels[LABEL.server]!);
    try {
      await engineCall("remove container", docker.getContainer(c.Id).remove({ force: true, v: true }));
      report.containers.push(c.Id);
    } catch {
      // Removal already in progress or engine hiccup: the next periodic pass retries.
    }
  }

  const networks = await engineCall("list networks", docker.listNetworks({ filters: { label: [LABEL.server] } }));
  for (const n of networks) {
    if (!dead(n.Labels)) continue;
    deadServers.add(n.Labels![LABEL.server]!);
    try {
      await engineCall("remove network", docker.getNetwork(n.Id).remove());
      report.networks.push(n.Name);
    } catch {
      // Still has endpoints (a container removal racing us): the next pass retries.
    }
  }

  if (options.firewall !== false && deadServers.size > 0) {
    // Only servers proven dead by their own labelled objects: a live server that just created its
    // network must never lose the rules that close the host-reachability hole.
    for (const owner of await firewallOwners()) {
      if (deadServers.has(owner)) report.firewallRules += await removeFirewallOf(owner);
    }
  }
  return report;
}

export interface Reaper {
  /** The startup pass (resolves when it is done; never rejects). */
  firstPass: Promise<void>;
  stop(): void;
}

/**
 * The server's one reaper loop: a pass at once (leftovers of a warden that was killed), then every
 * `intervalMs` (0: the startup pass only). A failed pass is logged at debug level and retried next time.
 */
export function startReaper(docker: Dockerode, serverId: string, intervalMs: number, logger?: { info(o: object, m: string): void; debug(o: object, m: string): void }): Reaper {
  const pass = async (): Promise<void> => {
    try {
      const report = await reapLeftovers(docker, { serverId });
      if (report.containers.length + report.networks.length + report.firewallRules > 0) logger?.info({ ...report }, "reaped leftovers of a dead warden server");
    } catch (err) {
      logger?.debug({ err: (err as Error).message }, "reaper pass skipped");
    }
  };
  const firstPass = pass();
  const timer = intervalMs > 0 ? setInterval(() => void pass(), intervalMs).unref() : undefined;
  return { firstPass, stop: () => timer && clearInterval(timer) };
}
