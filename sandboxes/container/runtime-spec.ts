/**
 * What the OCI runtime changes in a container's create options (SPEC §16).
 * runc: nothing. runsc (gVisor): the same §4 settings, plus `Runtime`, and the
 * pids rule enforced where it still means something.
 */
import type Dockerode from "dockerode";

export const CONTAINER_RUNTIMES = ["runc", "runsc"] as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number];

/**
 * Under runsc the host pids cgroup counts the gVisor sandbox's own host threads (sentry, gofer, ptrace
 * stubs), not the tool's processes. Measured here (runsc 20221219, cgroup v1): 118 host pids for 16 tool
 * processes, 369 for 64; a PidsLimit of 16 or 32 stops the sandbox from starting at all. So the host limit
 * is scaled to keep bounding the host's process table, and the tool's own process count is bounded inside
 * gVisor's kernel by RLIMIT_NPROC (per sandbox there: fork fails with EAGAIN at the limit, as with runc's
 * pids cgroup). Under runc RLIMIT_NPROC would count every uid-65534 process on the host: not used there.
 */
export const RUNSC_HOST_PIDS_BASE = 128;
export const RUNSC_HOST_PIDS_PER_PROCESS = 8;

/** The create options for `runtime`; `spec` is what containerSpec built for runc. */
export function withRuntime(runtime: ContainerRuntime | undefined, spec: Dockerode.ContainerCreateOptions): Dockerode.ContainerCreateOptions {
  if (runtime === undefined || runtime === "runc") return spec;
  const host = spec.HostConfig ?? {};
  const pids = host.PidsLimit;
  if (typeof pids !== "number" || pids <= 0) return { ...spec, HostConfig: { ...host, Runtime: runtime } };
  const ulimits = (host.Ulimits ?? []).filter((u) => u.Name !== "nproc");
  return {
    ...spec,
    HostConfig: {
      ...host,
      // Every container of this server runs under gVisor: a kernel exploit reaches the sentry, not the host kernel.
      Runtime: runtime,
      // Still bounds what the sandbox can take of the host's process table.
      PidsLimit: RUNSC_HOST_PIDS_BASE + RUNSC_HOST_PIDS_PER_PROCESS * pids,
      // A fork bomb inside stops at the tool's pids limit (EAGAIN), enforced by gVisor's kernel.
      Ulimits: [...ulimits, { Name: "nproc", Soft: pids, Hard: pids }],
    },
  };
}
