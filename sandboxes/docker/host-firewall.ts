/**
 * Host firewall rules for warden's egress bridge.
 *
 * Measured on this machine: a container on a Docker `--internal` network still
 * reaches a host service bound to 0.0.0.0 through the network's gateway,
 * through docker0 (172.17.0.1) and through the host's own address — Docker's
 * internal isolation only filters FORWARD, while anything addressed to the
 * host arrives on INPUT. These rules admit exactly the egress proxy port on the
 * gateway from the bridge and refuse everything else addressed to the host,
 * and drop anything forwarded to or from the bridge (other containers, other
 * networks, the outside).
 *
 * Every rule carries the comment `warden:<serverId>` so the reaper can remove
 * the rules of a crashed server, and nothing else.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { WardenError } from "../../src/errors.js";

const run = promisify(execFile);

export interface FirewallTarget {
  serverId: string;
  bridge: string;
  gateway: string;
  proxyPort: number;
}

export type Rule = { binary: "iptables" | "ip6tables"; chain: string; args: string[] };

/** `container` egress mode (the proxy is a container on the tool network; egress-container.ts). */
export interface ContainerFirewallTarget {
  serverId: string;
  /** The tool network's bridge (internal). */
  bridge: string;
  /** The outbound network's bridge: only the proxy container is on it. */
  outBridge: string;
  proxyIp: string;
  proxyPort: number;
}

function comment(serverId: string): string[] {
  return ["-m", "comment", "--comment", `warden:${serverId}`];
}

/** Rules in the order they must be evaluated (each is inserted at the top, so we insert them reversed). */
export function firewallRules(t: FirewallTarget): Rule[] {
  const c = comment(t.serverId);
  return [
    // The only thing a tool container may reach on the host: the proxy, on the gateway address.
    { binary: "iptables", chain: "INPUT", args: ["-i", t.bridge, "-d", t.gateway, "-p", "tcp", "--dport", String(t.proxyPort), ...c, "-j", "ACCEPT"] },
    // Host services on 0.0.0.0 (via gateway, docker0, the host's own IP): refused, with a quick error.
    { binary: "iptables", chain: "INPUT", args: ["-i", t.bridge, ...c, "-j", "REJECT"] },
    { binary: "ip6tables", chain: "INPUT", args: ["-i", t.bridge, ...c, "-j", "DROP"] },
    // Belt and braces over Docker's internal-network isolation: nothing is forwarded from or to the bridge,
    // which also stops one tool container from talking to another.
    { binary: "iptables", chain: "DOCKER-USER", args: ["-i", t.bridge, ...c, "-j", "DROP"] },
    { binary: "iptables", chain: "DOCKER-USER", args: ["-o", t.bridge, ...c, "-j", "DROP"] },
    { binary: "ip6tables", chain: "FORWARD", args: ["-i", t.bridge, ...c, "-j", "DROP"] },
  ];
}

/**
 * Rules of the `container` egress mode, in evaluation order. Nothing on the tool bridge may reach the host
 * (no proxy listens there any more), nor may the proxy container from the outbound bridge (the engine host's
 * services bound on 0.0.0.0 answer on that gateway too). On the tool bridge the only traffic forwarded is
 * tool container ↔ proxy container on the proxy port: the ACCEPTs in DOCKER-USER come before Docker's own
 * inter-container DROP, everything else there is dropped (other tools, other networks, the outside).
 */
export function containerFirewallRules(t: ContainerFirewallTarget): Rule[] {
  const c = comment(t.serverId);
  const port = String(t.proxyPort);
  return [
    { binary: "iptables", chain: "INPUT", args: ["-i", t.bridge, ...c, "-j", "REJECT"] },
    { binary: "ip6tables", chain: "INPUT", args: ["-i", t.bridge, ...c, "-j", "DROP"] },
    { binary: "iptables", chain: "INPUT", args: ["-i", t.outBridge, ...c, "-j", "REJECT"] },
    { binary: "ip6tables", chain: "INPUT", args: ["-i", t.outBridge, ...c, "-j", "DROP"] },
    { binary: "iptables", chain: "DOCKER-USER", args: ["-i", t.bridge, "-o", t.bridge, "-d", t.proxyIp, "-p", "tcp", "--dport", port, ...c, "-j", "ACCEPT"] },
    { binary: "iptables", chain: "DOCKER-USER", args: ["-i", t.bridge, "-o", t.bridge, "-s", t.proxyIp, "-p", "tcp", "--sport", port, ...c, "-j", "ACCEPT"] },
    { binary: "iptables", chain: "DOCKER-USER", args: ["-i", t.bridge, ...c, "-j", "DROP"] },
    { binary: "iptables", chain: "DOCKER-USER", args: ["-o", t.bridge, ...c, "-j", "DROP"] },
    { binary: "ip6tables", chain: "FORWARD", args: ["-i", t.bridge, ...c, "-j", "DROP"] },
  ];
}

async function iptables(binary: string, args: string[]): Promise<void> {
  await run(binary, ["-w", "5", ...args], { timeout: 10_000 });
}

async function exists(rule: Rule): Promise<boolean> {
  try {
    await iptables(rule.binary, ["-C", rule.chain, ...rule.args]);
    return true;
  } catch {
    return false;
  }
}

/** Installs the rules idempotently. Fails closed: without them a networked tool could reach host services. */
export async function installFirewall(t: FirewallTarget): Promise<void> {
  await installRules(firewallRules(t));
}

/** Installs rules (in evaluation order) idempotently; fails closed with E_SANDBOX_UNAVAILABLE. */
export async function installRules(rules: Rule[]): Promise<void> {
  for (const rule of [...rules].reverse()) {
    if (rule.binary === "ip6tables" && !(await hasBinary("ip6tables"))) continue;
    if (await exists(rule)) continue;
    try {
      await iptables(rule.binary, ["-I", rule.chain, "1", ...rule.args]);
    } catch (err) {
      throw new WardenError(
        "E_SANDBOX_UNAVAILABLE",
        `cannot install the host firewall rule for the egress network (${rule.binary} ${rule.chain}): ` +
          `${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}; networked container tools need root and iptables on the engine's host`,
      );
    }
  }
}

export async function removeFirewall(t: FirewallTarget): Promise<void> {
  await removeRules(firewallRules(t));
}

export async function removeRules(rules: Rule[]): Promise<void> {
  for (const rule of rules) {
    while (await exists(rule)) await iptables(rule.binary, ["-D", rule.chain, ...rule.args]).catch(() => {});
  }
}

/** Deletes every rule commented `warden:<serverId>` (a crashed server's leftovers). */
export async function removeFirewallOf(serverId: string): Promise<number> {
  let removed = 0;
  for (const binary of ["iptables", "ip6tables"] as const) {
    if (!(await hasBinary(binary))) continue;
    let listing: string;
    try {
      listing = (await run(binary, ["-w", "5", "-S"], { timeout: 10_000 })).stdout;
    } catch {
      continue;
    }
    for (const line of listing.split("\n")) {
      if (!line.startsWith("-A ") || ruleOwner(line) !== serverId) continue;
      const args = splitRule(line.slice(3));
      await iptables(binary, ["-D", ...args]).then(() => (removed += 1), () => {});
    }
  }
  return removed;
}

/** Server ids that own firewall rules on this host (for the reaper). */
export async function firewallOwners(): Promise<string[]> {
  const owners = new Set<string>();
  for (const binary of ["iptables", "ip6tables"] as const) {
    if (!(await hasBinary(binary))) continue;
    const listing = await run(binary, ["-w", "5", "-S"], { timeout: 10_000 }).then((r) => r.stdout, () => "");
    for (const line of listing.split("\n")) {
      const owner = ruleOwner(line);
      if (owner) owners.add(owner);
    }
  }
  return [...owners];
}

function ruleOwner(line: string): string | undefined {
  return /--comment "?warden:([A-Za-z0-9_-]+)"?(?:\s|$)/.exec(line)?.[1];
}

function splitRule(spec: string): string[] {
  // `iptables -S` quotes comments with spaces; ours have none, but strip quotes defensively.
  return (spec.match(/"[^"]*"|\S+/g) ?? []).map((a) => a.replace(/^"(.*)"$/, "$1"));
}

const binaries = new Map<string, Promise<boolean>>();
function hasBinary(name: string): Promise<boolean> {
  let found = binaries.get(name);
  if (!found) {
    found = run(name, ["-w", "5", "-S", "INPUT"], { timeout: 10_000 }).then(() => true, () => false);
    binaries.set(name, found);
  }
  return found;
}
