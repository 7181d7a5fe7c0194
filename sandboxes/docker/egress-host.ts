/**
 * `host` egress mode: the proxy runs inside warden's process, listening on the gateway address of the
 * internal tool network, with host firewall rules that leave the proxy port as the network's only
 * reachable host service. Works only when the engine runs on warden's own host (the gateway is one of
 * this host's addresses); with a remote engine the listen fails and networked tools fail closed.
 */
import type Dockerode from "dockerode";
import type { Logger } from "pino";
import { WardenError } from "../../src/errors.js";
import type { EgressAttachment } from "./container-spec.js";
import { EgressProxy, type AuthorizeEgress, type CallBinding } from "./egress-proxy.js";
import { egressBridgeName, egressNetworkName, ensureNetwork } from "./egress-network.js";
import { engineCall } from "./engine.js";
import { installFirewall, removeFirewall, type FirewallTarget } from "./host-firewall.js";

export interface HostEgressOptions {
  docker: Dockerode;
  serverId: string;
  authorize: AuthorizeEgress;
  logger?: Logger;
  firewall?: boolean;
}

export class HostEgress {
  private setup: Promise<EgressAttachment> | undefined;
  private readonly proxy: EgressProxy;
  private firewall: FirewallTarget | undefined;

  constructor(private readonly options: HostEgressOptions) {
    this.proxy = new EgressProxy({ authorize: options.authorize });
  }

  ready(): Promise<EgressAttachment> {
    if (!this.setup) {
      this.setup = this.create().catch(async (err: unknown) => {
        // Half a setup (proxy up, firewall refused) must not linger: the next networked call retries cleanly.
        this.setup = undefined;
        await this.stopProxy();
        throw err;
      });
    }
    return this.setup;
  }

  async bind(containerIp: string, binding: CallBinding): Promise<void> {
    this.proxy.bind(containerIp, binding);
  }

  /** Synchronous in this mode: the call's still-open exchanges are reported before this resolves. */
  async unbind(containerIp: string): Promise<void> {
    this.proxy.unbind(containerIp);
  }

  /** Records are delivered synchronously in this mode: nothing to wait for. */
  async flush(_ip: string, _since: number): Promise<void> {}

  async close(): Promise<void> {
    const setup = this.setup;
    this.setup = undefined;
    await this.stopProxy();
    if (setup) {
      const network = this.options.docker.getNetwork(egressNetworkName(this.options.serverId));
      await engineCall("remove network", network.remove()).catch(() => {});
    }
  }

  /** The proxy stops listening and its firewall rules go (a failed setup, or close). */
  private async stopProxy(): Promise<void> {
    await this.proxy.close();
    if (this.firewall) await removeFirewall(this.firewall).catch(() => {});
    this.firewall = undefined;
  }

  private async create(): Promise<EgressAttachment> {
    const { serverId, docker } = this.options;
    const networkName = egressNetworkName(serverId);
    const bridge = egressBridgeName(serverId);
    // Tool containers on the same network must not reach each other: icc off.
    const { gateway } = await ensureNetwork(docker, { name: networkName, bridge, serverId, internal: true, icc: false });
    const proxyPort = await this.proxy.listen(gateway).catch((err: NodeJS.ErrnoException) => {
      // EADDRNOTAVAIL: a remote engine's gateway is not ours to listen on, nor ours to firewall. Fail closed.
      throw new WardenError(
        "E_SANDBOX_UNAVAILABLE",
        `egress proxy cannot listen on the egress network's gateway (${err.code ?? err.message}); with a remote engine set container.egress to "container"`,
      );
    });
    if (this.options.firewall !== false) {
      this.firewall = { serverId, bridge, gateway, proxyPort };
      await installFirewall(this.firewall);
    } else {
      this.options.logger?.warn({ networkName }, "egress host firewall disabled: host services are reachable from networked tools");
    }
    this.options.logger?.info({ networkName, bridge, gateway, proxyPort, mode: "host" }, "egress proxy ready");
    return { networkName, proxyUrl: `http://${gateway}:${proxyPort}` };
  }
}
