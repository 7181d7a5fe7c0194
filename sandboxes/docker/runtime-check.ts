/**
 * Startup check of `container.runtime` (SPEC §16): warden refuses to start
 * when the engine does not know the configured runtime, naming the fix, so an
 * operator who asked for gVisor never learns of a missing runtime from the
 * first failed call. The per-container guarantee is `HostConfig.Runtime` (an
 * engine without runsc refuses the create: no silent fallback to runc); this
 * check makes the misconfiguration loud and early.
 */
import type Dockerode from "dockerode";
import type { Logger } from "pino";
import { WardenError } from "../../src/errors.js";
import { engineCall } from "./engine.js";
import type { ContainerRuntime } from "./runtime-spec.js";

/** One runtime the engine knows (`docker info` → `Runtimes`). */
export interface EngineRuntime {
  path?: string;
  runtimeArgs?: string[];
}
export type EngineRuntimes = Record<string, EngineRuntime>;

export interface RuntimeCheckOptions {
  docker: Dockerode;
  logger?: Logger | undefined;
  /** The engine's runtimes; default `docker.info().Runtimes`. Tests inject an engine here. */
  engineRuntimes?: () => Promise<EngineRuntimes>;
}

export const RUNSC_FIX =
  'register it in /etc/docker/daemon.json: {"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=host", "--oci-seccomp"]}}} ' +
  "(install it with `apt-get install runsc`), then reload the engine with `kill -HUP $(pidof dockerd)`; see docs/deployment.md, gVisor (runsc)";

/** Resolves when the runtime can be used; throws E_CONFIG (naming the fix) when the engine lacks it. */
export async function checkContainerRuntime(runtime: ContainerRuntime, options: RuntimeCheckOptions): Promise<void> {
  if (runtime === "runc") return; // every engine has it; nothing changes for the default
  let runtimes: EngineRuntimes;
  try {
    runtimes = options.engineRuntimes ? await options.engineRuntimes() : await infoRuntimes(options.docker);
  } catch (err) {
    // No engine now: containers cannot run at all (each call fails E_SANDBOX_UNAVAILABLE, isolate tools keep
    // serving), and each create names the runtime, so nothing can run under runc by mistake later.
    options.logger?.warn(
      { event: "container.runtime_unchecked", runtime, err: (err as Error).message },
      `container.runtime "${runtime}": the engine did not answer, so the runtime could not be checked at startup`,
    );
    return;
  }
  const found = runtimes[runtime];
  if (!found)
    throw new WardenError(
      "E_CONFIG",
      `container.runtime is "${runtime}" but the Docker engine does not know that runtime (it knows: ${Object.keys(runtimes).sort().join(", ") || "none"}); ${RUNSC_FIX}`,
    );
  const args = found.runtimeArgs ?? [];
  // Without --oci-seccomp gVisor ignores the container's seccomp profile: the tool's syscalls would reach the
  // sentry unfiltered, and §4's "default seccomp profile" would silently not hold.
  if (!args.includes("--oci-seccomp"))
    throw new WardenError(
      "E_CONFIG",
      `container.runtime is "${runtime}" but the engine's runsc runs without --oci-seccomp, so the default seccomp profile would not apply inside gVisor; ${RUNSC_FIX}`,
    );
  options.logger?.info({ event: "container.runtime", runtime, runtimeArgs: args }, `containers run under ${runtime} (gVisor)`);
  // What differs from runc, so no operator mistakes it for a weakened rule (docs/deployment.md, gVisor (runsc)).
  options.logger?.warn(
    { event: "container.runtime_notes", runtime },
    "under runsc the tool's pids limit is enforced inside gVisor (RLIMIT_NPROC); the host pids cgroup is scaled for gVisor's own threads, and the memory limit also covers gVisor's sentry (about 30-40 MiB)",
  );
}

async function infoRuntimes(docker: Dockerode): Promise<EngineRuntimes> {
  const info = (await engineCall("info", docker.info() as Promise<{ Runtimes?: EngineRuntimes }>)) ?? {};
  return info.Runtimes ?? {};
}
