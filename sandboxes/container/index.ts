/** The one-shot container backend (SPEC §4): stdin/stdout protocol, gate, warm pool. Docker plumbing: sandboxes/docker. */
export { createContainerExecutor, type ContainerExecutor, type ContainerExecutorOptions } from "./container-executor.js";
export type { PoolStats } from "./pool.js";
