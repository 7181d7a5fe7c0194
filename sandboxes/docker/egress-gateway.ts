/**
 * The egress side of the Docker backends, set up once per server on first use: an internal Docker
 * network (no route out) whose only exit is warden's egress proxy, which checks every request with the
 * rule ctx.fetch uses (`authorizeEgress`) and reports each exchange for the call's audit record.
 * Where the proxy runs is config `container.egress` (SPEC §16, issue 13 §2):
 * - `host` (egress-host.ts): in warden's process, on the tool network's gateway, with host firewall rules;
 *   needs the engine on this host;
 * - `container` (egress-container.ts): a hardened container of warden's own beside the tools, driven over
 *   its stdio; works with a remote engine or Docker-in-Docker too.
 * Default: `host` with a local engine (unix socket), `container` otherwise.
 */
import type Dockerode from "dockerode";
import type { Logger } from "pino";
import { authorizeEgress } from "../../src/capabilities/network/index.js";
import type { EgressAttachment } from "./container-spec.js";
import { ContainerEgress } from "./egress-container.js";
import { HostEgress } from "./egress-host.js";
import type { AuthorizeEgress, CallBinding } from "./egress-proxy.js";
import { withRefusedAddresses } from "./egress-refusals.js";
import { engineIsLocal } from "./engine.js";

export { egressBridgeName, egressNetworkName } from "./egress-network.js";

export type EgressMode = "host" | "container";

export interface EgressGatewayOptions {
  docker: Dockerode;
  serverId: string;
  /** `host` mode only (tests inject a rule); the proxy container always runs authorizeEgress itself. */
  authorize?: AuthorizeEgress;
  logger?: Logger;
  /** Tests only: skip the host firewall (never in production: it is what closes the host-reachability hole). */
  firewall?: boolean;
  /** Where the proxy runs; default by engine (see above). */
  mode?: EgressMode;
  /** Addresses/CIDRs refused for every tool, also with allowPrivate (config `container.egress.refuse`). */
  refuse?: string[];
  /** `container` mode: the proxy image (default warden/egress:1). */
  image?: string;
}

/** The default of `container.egress`: the in-process proxy needs the engine's gateway to be this host's. */
export function defaultEgressMode(docker: Dockerode): EgressMode {
  return engineIsLocal(docker) ? "host" : "container";
}

export class EgressGateway {
  readonly mode: EgressMode;
  private readonly backend: HostEgress | ContainerEgress;

  constructor(options: EgressGatewayOptions) {
    this.mode = options.mode ?? defaultEgressMode(options.docker);
    const refuse = options.refuse ?? [];
    this.backend =
      this.mode === "container"
        ? new ContainerEgress({ docker: options.docker, serverId: options.serverId, logger: options.logger, firewall: options.firewall, refuse, image: options.image })
        : new HostEgress({
            docker: options.docker,
            serverId: options.serverId,
            authorize: withRefusedAddresses(options.authorize ?? authorizeEgress, refuse),
            logger: options.logger,
            firewall: options.firewall,
          });
  }

  /** Idempotent; a failed setup is retried on the next networked call. */
  ready(): Promise<EgressAttachment> {
    return this.backend.ready();
  }

  /** Resolves when the proxy will attribute requests from `containerIp` to this call (before the tool runs). */
  bind(containerIp: string, binding: CallBinding): Promise<void> {
    return this.backend.bind(containerIp, binding);
  }

  /**
   * Resolves when every egress record of the binding has been passed to its `onEgress`; rejects with
   * E_SANDBOX_UNAVAILABLE when that cannot be promised (the call must then fail closed).
   */
  unbind(containerIp: string): Promise<void> {
    return this.backend.unbind(containerIp);
  }

  /**
   * For a binding that outlives its calls (a hosted server): resolves when every record of exchanges that
   * ended so far was delivered; rejects with E_SANDBOX_UNAVAILABLE when the proxy died while `containerIp`
   * was bound after `since` (ms epoch): that call's records may be incomplete.
   */
  flush(containerIp: string, since: number): Promise<void> {
    return this.backend.flush(containerIp, since);
  }

  /** Call after every container on the network is gone. */
  close(): Promise<void> {
    return this.backend.close();
  }
}
