/**
 * What every Docker-based backend shares (SPEC §4, §5, §15, §16): the engine client, labels and the
 * reaper, the hardened container config, the egress network + proxy + host firewall, image builds and
 * inspection, the OCI runtime check. Created once per server in src/runtime (createDockerShared) and
 * injected into each Docker backend (sandboxes/container, sandboxes/mcp-server).
 */
export { createDockerShared, type DockerShared } from "./docker-shared.js";
export { reapLeftovers, leaseIsAlive, type ReapOptions, type ReapReport } from "./reaper.js";
export { buildImages, type BuildImagesOptions } from "./images.js";
export { pingEngine } from "./engine.js";
export { LABEL } from "./labels.js";
export type { AuthorizeEgress, EgressTarget } from "./egress-proxy.js";
