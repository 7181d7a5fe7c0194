/**
 * The Docker networks of the egress path, labelled per server (the reaper removes a dead server's):
 * - the tool network `warden-egress-<serverId>`: `Internal: true` (no route out), bridge `wdn-<hash>`;
 * - in `container` egress mode, the outbound network `warden-out-<serverId>` (a normal NATed bridge,
 *   `wdo-<hash>`) that only the proxy container joins.
 */
import type Dockerode from "dockerode";
import { createHash } from "node:crypto";
import { WardenError } from "../../src/errors.js";
import { engineCall, isNotFound } from "./engine.js";
import { serverLabels } from "./labels.js";

export function egressNetworkName(serverId: string): string {
  return `warden-egress-${serverId}`;
}

/** Linux interface names are at most 15 bytes; derived from the server id so rules name a stable bridge. */
export function egressBridgeName(serverId: string): string {
  return `wdn-${createHash("sha256").update(serverId).digest("hex").slice(0, 10)}`;
}

export function outboundNetworkName(serverId: string): string {
  return `warden-out-${serverId}`;
}

export function outboundBridgeName(serverId: string): string {
  return `wdo-${createHash("sha256").update(serverId).digest("hex").slice(0, 10)}`;
}

export interface NetworkSpec {
  name: string;
  bridge: string;
  serverId: string;
  internal: boolean;
  /** Inter-container traffic on the bridge (Docker's enable_icc). */
  icc: boolean;
  /**
   * Pin the subnet (Docker picks it, then the network is re-created with it explicitly) and keep automatic
   * addresses to its upper half: the lower half holds addresses warden assigns (the proxy container's),
   * which Docker accepts only on a network with a user-configured subnet.
   */
  pinnedSubnet?: boolean;
}

export interface NetworkInfo {
  name: string;
  gateway: string;
  subnet: string;
}

export async function ensureNetwork(docker: Dockerode, spec: NetworkSpec): Promise<NetworkInfo> {
  const existing = await inspectNetwork(docker, spec.name);
  if (existing) return existing;
  if (!spec.pinnedSubnet) {
    await createNetwork(docker, spec);
    return (await inspectNetwork(docker, spec.name))!;
  }
  for (let attempt = 1; ; attempt += 1) {
    await createNetwork(docker, spec);
    const picked = (await inspectNetwork(docker, spec.name))!;
    await engineCall("remove network", docker.getNetwork(spec.name).remove());
    try {
      await createNetwork(docker, spec, { Subnet: picked.subnet, Gateway: picked.gateway, IPRange: upperHalf(picked.subnet) });
      return (await inspectNetwork(docker, spec.name))!;
    } catch (err) {
      // Another engine user took the subnet in between (pool overlap): pick again.
      if (attempt >= 3) throw err;
    }
  }
}

async function createNetwork(docker: Dockerode, spec: NetworkSpec, ipam?: { Subnet: string; Gateway: string; IPRange: string }): Promise<void> {
  await engineCall(
    "create network",
    docker.createNetwork({
      Name: spec.name,
      Driver: "bridge",
      // Internal: no NAT, no route to the outside world; the proxy is the only exit.
      Internal: spec.internal,
      CheckDuplicate: true,
      Labels: serverLabels(spec.serverId),
      ...(ipam ? { IPAM: { Driver: "default", Config: [ipam] } } : {}),
      Options: {
        "com.docker.network.bridge.name": spec.bridge,
        "com.docker.network.bridge.enable_icc": String(spec.icc),
      },
    }),
  );
}

async function inspectNetwork(docker: Dockerode, name: string): Promise<NetworkInfo | undefined> {
  let info: Dockerode.NetworkInspectInfo;
  try {
    info = await engineCall("inspect network", docker.getNetwork(name).inspect());
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const config = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(":") && c.Subnet);
  if (!config?.Gateway || !config.Subnet) throw new WardenError("E_SANDBOX_UNAVAILABLE", `egress network ${name} has no IPv4 gateway`);
  return { name, gateway: config.Gateway, subnet: config.Subnet };
}

function toNumber(ip: string): number {
  return ip.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

function toIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

function parseSubnet(subnet: string): { base: number; bits: number } {
  const [ip, bits] = subnet.split("/");
  const b = Number(bits);
  if (!ip || !Number.isInteger(b) || b < 8 || b > 28) throw new WardenError("E_SANDBOX_UNAVAILABLE", `egress network subnet ${subnet} is not an IPv4 /8–/28`);
  const size = 2 ** (32 - b);
  return { base: toNumber(ip) - (toNumber(ip) % size), bits: b };
}

/** The upper half of an IPv4 subnet, where Docker assigns container addresses by itself. */
export function upperHalf(subnet: string): string {
  const { base, bits } = parseSubnet(subnet);
  return `${toIp(base + 2 ** (32 - bits - 1))}/${bits + 1}`;
}

/** The address warden gives its proxy container: the first host address of the subnet that is not the gateway. */
export function fixedProxyAddress(subnet: string, gateway: string): string {
  const { base } = parseSubnet(subnet);
  const first = base + 1;
  return toIp(toNumber(gateway) === first ? first + 1 : first);
}
