/**
 * The egress side of the container backend, set up once per server on first
 * use: an internal Docker network (no route out), the egress proxy on that
 * network's gateway address, and host firewall rules that leave the proxy
 * port as the network's only reachable host service.
 */
import type Dockerode from "dockerode";
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { WardenError } from "../../src/errors.js";
import type { EgressAttachment } from "./container-spec.js";
import { EgressProxy, type AuthorizeEgress, type CallBinding } from "./egress-proxy.js";
import { engineCall, isNotFound } from "./engine.js";
import { installFirewall, removeFirewall, type FirewallTarget } from "./host-firewall.js";
import { serverLabels } from "./labels.js";

export interface EgressGatewayOptions {
  docker: Dockerode;
  serverId: string;
  authorize: AuthorizeEgress;
  logger?: Logger;
  /** Tests only: skip the host firewall (never in production: it is what closes the host-reachability hole). */
  firewall?: boolean;
}

export function egressNetworkName(serverId: string): string {
  return `warden-egress-${serverId}`;
}

/** Linux interface names are at most 15 bytes; derived from the server id so rules name a stable bridge. */
export function egressBridgeName(serverId: string): string {
  return `wdn-${createHash("sha256").update(serverId).digest("hex").slice(0, 10)}`;
}

export class EgressGateway {
  private setup: Promise<EgressAttachment> | undefined;
  private readonly proxy: EgressProxy;
  private firewall: FirewallTarget | undefined;

  constructor(private readonly options: EgressGatewayOptions) {
    this.proxy = new EgressProxy({ authorize: options.authorize });
  }

  /** Idempotent; a failed setup is retried on the next networked call. */
  ready(): Promise<EgressAttachment> {
    if (!this.setup) {
      this.setup = this.create().catch(async (err: unknown) => {
        // Half a setup (proxy up, firewall refused) must not linger: the next networked call retries cleanly.
        this.setup = undefined;
        await this.proxy.close();
        if (this.firewall) await removeFirewall(this.firewall).catch(() => {});
        this.firewall = undefined;
        throw err;
      });
    }
    return this.setup;
  }

  bind(containerIp: string, binding: CallBinding): void {
    this.proxy.bind(containerIp, binding);
  }

  unbind(containerIp: string): void {
    this.proxy.unbind(containerIp);
  }

  /** Call after every container on the network is gone. */
  async close(): Promise<void> {
    const setup = this.setup;
    this.setup = undefined;
    await this.proxy.close();
    if (this.firewall) await removeFirewall(this.firewall).catch(() => {});
    this.firewall = undefined;
    if (setup) {
      const network = this.options.docker.getNetwork(egressNetworkName(this.options.serverId));
      await engineCall("remove network", network.remove()).catch(() => {});
    }
  }

  private async create(): Promise<EgressAttachment> {
    const { serverId } = this.options;
    const networkName = egressNetworkName(serverId);
    const bridge = egressBridgeName(serverId);
    const gateway = await this.ensureNetwork(networkName, bridge);
    const proxyPort = await this.proxy.listen(gateway).catch((err: NodeJS.ErrnoException) => {
      // EADDRNOTAVAIL: a remote engine's gateway is not ours to listen on, nor ours to firewall. Fail closed.
      throw new WardenError(
        "E_SANDBOX_UNAVAILABLE",
        `egress proxy cannot listen on the egress network's gateway (${err.code ?? err.message}); networked container tools need the Docker engine on this host`,
      );
    });
    if (this.options.firewall !== false) {
      this.firewall = { serverId, bridge, gateway, proxyPort };
      await installFirewall(this.firewall);
    } else {
      this.options.logger?.warn({ networkName }, "egress host firewall disabled: host services are reachable from networked tools");
    }
    this.options.logger?.info({ networkName, bridge, gateway, proxyPort }, "egress proxy ready");
    return { networkName, proxyUrl: `http://${gateway}:${proxyPort}` };
  }

  private async ensureNetwork(name: string, bridge: string): Promise<string> {
    const { docker, serverId } = this.options;
    let info: Dockerode.NetworkInspectInfo;
    try {
      info = await engineCall("inspect network", docker.getNetwork(name).inspect());
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await engineCall(
        "create network",
        docker.createNetwork({
          Name: name,
          Driver: "bridge",
          // Internal: no NAT, no route to the outside world; the proxy is the only exit.
          Internal: true,
          CheckDuplicate: true,
          Labels: serverLabels(serverId),
          Options: {
            "com.docker.network.bridge.name": bridge,
            // Tool containers on the same network must not reach each other.
            "com.docker.network.bridge.enable_icc": "false",
          },
        }),
      );
      info = await engineCall("inspect network", docker.getNetwork(name).inspect());
    }
    const gateway = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(":"))?.Gateway;
    if (!gateway) throw new WardenError("E_SANDBOX_UNAVAILABLE", `egress network ${name} has no IPv4 gateway`);
    return gateway;
  }
}
