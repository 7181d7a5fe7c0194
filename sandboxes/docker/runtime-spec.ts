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
  const base = spec.HostConfig ?? {};
  const host = { ...base, ...(base.SecurityOpt ? { SecurityOpt: base.SecurityOpt.map(seccompForGvisor) } : {}) };
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

interface SeccompProfile {
  syscalls?: Array<{ names: string[]; action: string; errnoRet?: number; args?: unknown[] }>;
}

/**
 * gVisor (runsc 20221219, --oci-seccomp) ignores a rule's `errnoRet` and answers EPERM. The profile refuses
 * clone3 with ENOSYS so that glibc falls back to clone, whose flags the profile checks; with EPERM instead,
 * glibc does not fall back and every pthread_create fails — measured: Python threads and Node do not start.
 * gVisor does not implement clone3 (ENOSYS from its own kernel, measured), so under runsc the profile lets
 * clone3 through to gVisor, which gives glibc exactly the ENOSYS the profile meant. A gVisor that implements
 * clone3 would let namespace flags past the profile (inside gVisor's kernel, without capabilities): the
 * runsc suite asserts clone3 still answers ENOSYS (test/sandboxes/container/runtime.test.ts).
 */
function seccompForGvisor(option: string): string {
  if (!option.startsWith("seccomp=") || option === "seccomp=unconfined") return option;
  const profile = JSON.parse(option.slice("seccomp=".length)) as SeccompProfile;
  profile.syscalls = (profile.syscalls ?? []).map((rule) =>
    rule.names.length === 1 && rule.names[0] === "clone3" && rule.action === "SCMP_ACT_ERRNO" && !rule.args?.length
      ? { names: ["clone3"], action: "SCMP_ACT_ALLOW" }
      : rule,
  );
  return `seccomp=${JSON.stringify(profile)}`;
}
