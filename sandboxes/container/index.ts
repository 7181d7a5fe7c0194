/** The container sandbox backend: dockerode, warm pool, egress proxy, reaper, image builds. */
export { createContainerExecutor, type ContainerExecutor, type ContainerExecutorOptions } from "./container-executor.js";
export type { PoolStats } from "./pool.js";
export { reapLeftovers, leaseIsAlive, type ReapOptions, type ReapReport } from "./reaper.js";
export { buildImages, type BuildImagesOptions } from "./images.js";
export { pingEngine } from "./engine.js";
export { createDockerShared, type DockerShared } from "./shared-egress.js";
export { LABEL } from "./labels.js";
export type { AuthorizeEgress, EgressTarget } from "./egress-proxy.js";
