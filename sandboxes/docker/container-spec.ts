/**
 * The create options of every tool container (SPEC §4). Each setting names the
 * attack it stops; removing one must make a test in
 * test/sandboxes/container/hardening.test.ts fail.
 */
import type Dockerode from "dockerode";
import { createHash } from "node:crypto";
import { WardenError } from "../../src/errors.js";
import { LIMIT_DEFAULTS } from "../../src/manifest/schema.js";
import type { DockerSandboxTool, VolumeMount } from "../executor.js";
import type { ToolImageConfig } from "./image-config.js";
import { LABEL, serverLabels } from "./labels.js";
import { withRuntime, type ContainerRuntime } from "./runtime-spec.js";
import { SECCOMP_PROFILE_JSON } from "./seccomp-profile.js";

/** Where a networked container finds the egress proxy. */
export interface EgressAttachment {
  networkName: string;
  proxyUrl: string;
  /**
   * false with a remote engine: a container's pid is not a process of this host, so nothing may be done in
   * its namespaces from here (container-dns.ts would enter an unrelated local process's). Default true.
   */
  localEngine?: boolean;
}

export interface ContainerSpecInput {
  tool: DockerSandboxTool;
  env: Record<string, string>;
  serverId: string;
  /** Set only when `tool.network` is true. */
  egress?: EgressAttachment;
  /** `pool` for pre-started containers (their call id is not known yet). */
  callId: string | "pool";
  /** OCI runtime (config `container.runtime`, SPEC §16); default runc. */
  runtime?: ContainerRuntime;
  /** The inspected image: its command (run by the gate) and its VOLUME paths. */
  image: ToolImageConfig;
  /**
   * How PID 1 runs the tool's argv — required, so no caller gets a launch it did not choose. One-shot
   * container tools pass the gate (sandboxes/container/gate.ts): PID 1 waits for the call, then runs the
   * command under a hard bound, so nothing of the tool runs in a warm container before its call. A hosted MCP
   * server (sandboxes/mcp-server) passes `directLaunch`: its stdin is a JSON-RPC stream for the whole
   * session, and warden starts it only when a call needs it. The protocol is the backend's; the hardening here.
   */
  launch: Launch;
}

/** Entrypoint and Cmd for the tool's argv (image ENTRYPOINT + manifest command or image CMD). */
export type Launch = (argv: string[], timeoutMs: number) => { Entrypoint: string[]; Cmd: string[] };

/** The argv as PID 1: no step of warden's in between. */
export const directLaunch: Launch = (argv) => ({ Entrypoint: argv, Cmd: [] });

const TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=16m";
/** Over each VOLUME path of the image: small, in RAM (charged to the container's memory cgroup), no exec. */
export const VOLUME_TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=4m";
const VOLUME_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"];

export function containerSpec(input: ContainerSpecInput): Dockerode.ContainerCreateOptions {
  const { tool } = input;
  if (!tool.image) throw new WardenError("E_SANDBOX_UNAVAILABLE", `tool ${tool.name} has no image`);
  const limits = { ...LIMIT_DEFAULTS, ...tool.limits };
  const memoryBytes = limits.memoryMb * 1024 * 1024;
  // Docker's rule: the image's ENTRYPOINT, then the manifest's command or else the image's CMD.
  const argv = [...input.image.entrypoint, ...(tool.command ?? input.image.cmd)];
  if (argv.length === 0) throw new WardenError("E_SANDBOX_UNAVAILABLE", `tool ${tool.name} has no command: set "command" in its manifest or CMD in its image`);
  const mounts = volumeMounts(tool.volumes);
  return withRuntime(input.runtime, {
    // The id the inspection saw, not the tag: the VOLUME lines covered below are those of this very image.
    Image: input.image.id,
    // What PID 1 is: the backend's protocol (the one-shot gate keeps anything of the tool from running before
    // its call; a hosted server runs directly).
    ...input.launch(argv, limits.timeoutMs),
    // Runs as nobody: a kernel or runtime bug reached from the tool starts without root.
    User: "65534:65534",
    WorkingDir: "/tmp",
    Hostname: "sandbox",
    Env: containerEnv(input),
    Labels: {
      ...serverLabels(input.serverId),
      [LABEL.tool]: tool.name,
      [LABEL.call]: input.callId,
      [LABEL.owner]: tool.owner ?? "",
      ...(input.callId === "pool" ? { [LABEL.role]: "pool" } : {}),
    },
    // One JSON line on stdin, then EOF: the container blocks reading it until its call arrives (pool).
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    NetworkDisabled: false,
    HostConfig: {
      // A tool that writes into its image could persist a backdoor for the next call of the same image.
      ReadonlyRootfs: true,
      // noexec: no running a dropped binary directly (with memfd_create refused by the seccomp profile, not via
      // a memfd either); NOT a boundary against interpreted code or JIT memory (docs/threat-model.md). size: no
      // filling host RAM.
      // An image's VOLUME line would get an anonymous volume on the host disk (1 GiB in 0.7 s, exec-able,
      // outside the memory cgroup): a tmpfs on the same path takes its place, so Docker creates none.
      Tmpfs: volumeTmpfs(input.image.volumes, mounts),
      // No CAP_NET_RAW (spoofing), CAP_SYS_ADMIN (mount), CAP_SETUID (…): nothing at all.
      CapDrop: ["ALL"],
      // setuid binaries in the image cannot raise privileges. warden's own seccomp profile (seccomp-profile.ts):
      // Docker's default for an unprivileged container minus io_uring, memfd_create, ptrace.
      SecurityOpt: ["no-new-privileges:true", `seccomp=${SECCOMP_PROFILE_JSON}`],
      // memory = memory+swap: an allocation bomb hits the OOM killer instead of swapping the host to death.
      Memory: memoryBytes,
      MemorySwap: memoryBytes,
      NanoCpus: Math.round(limits.cpus * 1e9),
      // A fork bomb stops at the pids limit instead of exhausting the host's process table.
      PidsLimit: limits.pids,
      Ulimits: [{ Name: "nofile", Soft: 256, Hard: 256 }],
      // No host namespaces: host network, IPC and process table stay invisible.
      NetworkMode: input.egress ? input.egress.networkName : "none",
      IpcMode: "private",
      PidMode: "",
      Privileged: false,
      Devices: [],
      // Only the granted volumes; never the docker socket (root on the host).
      Mounts: mounts,
      // Output floods must not fill the host's disk through the json-file log driver; we read stdio by attach.
      LogConfig: { Type: "none", Config: {} },
      // The embedded DNS of an internal network would forward to the host's resolvers: point it at nothing,
      // so no name resolves from inside; the proxy resolves (and checks) names instead.
      ...(input.egress ? { Dns: ["127.0.0.1"], DnsSearch: [], DnsOptions: ["timeout:1", "attempts:1"] } : {}),
      AutoRemove: false,
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    },
  });
}

function containerEnv(input: ContainerSpecInput): string[] {
  const env: string[] = [];
  for (const [name, value] of Object.entries(input.env)) {
    // A name with "=" would smuggle a second variable (e.g. "A=x\nHTTP_PROXY").
    if (!ENV_NAME.test(name) || PROXY_VARS.includes(name))
      throw new WardenError("E_SANDBOX_UNAVAILABLE", `secret name ${JSON.stringify(name)} cannot be passed as an environment variable`);
    env.push(`${name}=${value}`);
  }
  if (input.egress) for (const name of PROXY_VARS) env.push(`${name}=${input.egress.proxyUrl}`);
  return env;
}

function volumeTmpfs(imageVolumes: string[], mounts: Dockerode.MountSettings[]): Record<string, string> {
  const tmpfs: Record<string, string> = { "/tmp": TMPFS_OPTIONS };
  const bound = new Set(mounts.map((m) => m.Target));
  // A granted volume mounted on the same path takes the place of the anonymous volume already.
  for (const path of imageVolumes) if (!(path in tmpfs) && !bound.has(path)) tmpfs[path] = VOLUME_TMPFS_OPTIONS;
  return tmpfs;
}

function volumeMounts(volumes: VolumeMount[]): Dockerode.MountSettings[] {
  return volumes.map((v) => {
    // The name becomes a path under /mnt: "../" here would mount over the image.
    if (!VOLUME_NAME.test(v.volume)) throw new WardenError("E_SANDBOX_UNAVAILABLE", `volume name ${JSON.stringify(v.volume)} is not valid`);
    return {
      Type: "bind" as const,
      Source: v.hostPath,
      Target: `/mnt/${v.volume}`,
      ReadOnly: v.access !== "read-write",
      BindOptions: { Propagation: "rprivate" as const },
    };
  });
}

/**
 * Two calls may share a pooled container only if it was created identically:
 * same image, command, limits, volumes, network, and the same granted env.
 */
export function poolKey(tool: DockerSandboxTool, env: Record<string, string>): string {
  const h = createHash("sha256");
  h.update(JSON.stringify([tool.name, tool.digest, tool.image, tool.command, tool.limits, tool.network, tool.volumes, tool.owner]));
  h.update(JSON.stringify(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))));
  return h.digest("hex");
}
