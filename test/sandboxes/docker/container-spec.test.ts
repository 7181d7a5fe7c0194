/**
 * containerSpec() is a pure function: every setting its header promises is
 * checked here directly, one by one, without Docker (issue 15). The in-container
 * probes of hardening.test.ts stay for what only a running container shows;
 * these tests make removing a setting fail even where no probe can see it
 * (e.g. Ulimits nofile, IpcMode "private").
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { containerSpec, directLaunch, poolKey, VOLUME_TMPFS_OPTIONS, type ContainerSpecInput } from "../../../sandboxes/docker/container-spec.js";
import { GATE_SCRIPT, gatedCommand, HARD_BOUND_GRACE_S } from "../../../sandboxes/container/gate.js";
import { LABEL } from "../../../sandboxes/docker/labels.js";
import { SECCOMP_PROFILE_JSON } from "../../../sandboxes/docker/seccomp-profile.js";
import type { ContainerSandboxTool } from "../../../sandboxes/executor.js";
import { LIMIT_DEFAULTS, type Limits } from "../../../src/manifest/schema.js";

const tool = ({ limits, ...over }: Partial<Omit<ContainerSandboxTool, "limits">> & { limits?: Partial<Limits> } = {}): ContainerSandboxTool => ({
  name: "probe",
  version: "1.0.0",
  digest: "sha256:" + "a".repeat(64),
  runtime: "container",
  dir: "/tools/probe",
  image: "warden-tools/probe:1",
  network: false,
  volumes: [],
  ...over,
  limits: { ...LIMIT_DEFAULTS, ...limits },
});

const image = { id: "sha256:" + "b".repeat(64), entrypoint: ["/usr/bin/python3"], cmd: ["/app/main.py"], volumes: [] as string[] };

const spec = (over: Partial<ContainerSpecInput> = {}) =>
  containerSpec({ tool: tool(), env: {}, serverId: "srv1", callId: "call-1", image, launch: directLaunch, ...over });

const host = (over: Partial<ContainerSpecInput> = {}) => {
  const h = spec(over).HostConfig;
  assert.ok(h, "HostConfig present");
  return h;
};

const egress = { networkName: "warden-egress-srv1", proxyUrl: "http://10.0.0.1:3128" };

describe("containerSpec (pure, setting by setting)", () => {
  test("runs as nobody (65534:65534) from /tmp with a neutral hostname", () => {
    const s = spec();
    assert.equal(s.User, "65534:65534");
    assert.equal(s.WorkingDir, "/tmp");
    assert.equal(s.Hostname, "sandbox");
  });

  test("creates the container from the inspected image id, not the tag", () => {
    assert.equal(spec().Image, image.id);
  });

  test("the root filesystem is read-only", () => {
    assert.equal(host().ReadonlyRootfs, true);
  });

  test("/tmp is a small noexec,nosuid,nodev tmpfs", () => {
    assert.deepEqual(host().Tmpfs, { "/tmp": "rw,noexec,nosuid,nodev,size=16m" });
  });

  test("drops every capability", () => {
    assert.deepEqual(host().CapDrop, ["ALL"]);
    assert.equal(host().CapAdd, undefined);
  });

  test("no-new-privileges and warden's own seccomp profile", () => {
    assert.deepEqual(host().SecurityOpt, ["no-new-privileges:true", `seccomp=${SECCOMP_PROFILE_JSON}`]);
    const profile = JSON.parse(SECCOMP_PROFILE_JSON) as { defaultAction: string };
    assert.notEqual(profile.defaultAction, "SCMP_ACT_ALLOW", "the profile is an allowlist");
  });

  test("memory equals memory+swap, from the tool's limit or the default", () => {
    assert.equal(host().Memory, 128 * 1024 * 1024);
    assert.equal(host().MemorySwap, 128 * 1024 * 1024);
    const h = host({ tool: tool({ limits: { memoryMb: 64 } }) });
    assert.equal(h.Memory, 64 * 1024 * 1024);
    assert.equal(h.MemorySwap, 64 * 1024 * 1024);
  });

  test("CPU quota in NanoCpus", () => {
    assert.equal(host().NanoCpus, 1e9);
    assert.equal(host({ tool: tool({ limits: { cpus: 0.5 } }) }).NanoCpus, 5e8);
  });

  test("a pids limit (fork bombs)", () => {
    assert.equal(host().PidsLimit, 64);
    assert.equal(host({ tool: tool({ limits: { pids: 8 } }) }).PidsLimit, 8);
  });

  test("an open-files limit (nofile 256)", () => {
    assert.deepEqual(host().Ulimits, [{ Name: "nofile", Soft: 256, Hard: 256 }]);
  });

  test("no network without egress; the egress network with it", () => {
    assert.equal(host().NetworkMode, "none");
    assert.equal(host({ tool: tool({ network: true }), egress }).NetworkMode, egress.networkName);
  });

  test("private IPC, no host pid namespace, not privileged, no devices", () => {
    const h = host();
    assert.equal(h.IpcMode, "private");
    assert.equal(h.PidMode, "");
    assert.equal(h.Privileged, false);
    assert.deepEqual(h.Devices, []);
  });

  test("no json-file log driver (output floods cannot fill the disk)", () => {
    assert.deepEqual(host().LogConfig, { Type: "none", Config: {} });
  });

  test("never auto-removed, never restarted", () => {
    const h = host();
    assert.equal(h.AutoRemove, false);
    assert.deepEqual(h.RestartPolicy, { Name: "no", MaximumRetryCount: 0 });
  });

  test("DNS points at nothing when egress is attached; untouched without", () => {
    const h = host({ tool: tool({ network: true }), egress });
    assert.deepEqual(h.Dns, ["127.0.0.1"]);
    assert.deepEqual(h.DnsSearch, []);
    assert.deepEqual(h.DnsOptions, ["timeout:1", "attempts:1"]);
    assert.equal(host().Dns, undefined);
  });

  test("volumes: bind mounts under /mnt, read-only unless read-write, rprivate", () => {
    const h = host({
      tool: tool({
        volumes: [
          { volume: "data", access: "read", hostPath: "/srv/data" },
          { volume: "out", access: "read-write", hostPath: "/srv/out" },
        ],
      }),
    });
    assert.deepEqual(h.Mounts, [
      { Type: "bind", Source: "/srv/data", Target: "/mnt/data", ReadOnly: true, BindOptions: { Propagation: "rprivate" } },
      { Type: "bind", Source: "/srv/out", Target: "/mnt/out", ReadOnly: false, BindOptions: { Propagation: "rprivate" } },
    ]);
    assert.deepEqual(host().Mounts, []);
  });

  test("a volume name that would escape /mnt is refused", () => {
    for (const name of ["../etc", "a/b", "", "UPPER", "x".repeat(65)])
      assert.throws(
        () => spec({ tool: tool({ volumes: [{ volume: name, access: "read", hostPath: "/srv" }] }) }),
        (e: Error & { code?: string }) => e.code === "E_SANDBOX_UNAVAILABLE",
        name,
      );
  });

  test("labels: server, lease, tool, call, owner; pool role only for pooled containers", () => {
    const labels = spec({ tool: tool({ owner: "team-a" }) }).Labels ?? {};
    assert.equal(labels[LABEL.server], "srv1");
    assert.match(labels[LABEL.lease] ?? "", /^.+\/\d+\/.+$/);
    assert.equal(labels[LABEL.tool], "probe");
    assert.equal(labels[LABEL.call], "call-1");
    assert.equal(labels[LABEL.owner], "team-a");
    assert.equal(labels[LABEL.role], undefined);
    const pooled = spec({ callId: "pool" }).Labels ?? {};
    assert.equal(pooled[LABEL.call], "pool");
    assert.equal(pooled[LABEL.role], "pool");
    assert.equal(pooled[LABEL.owner], "");
  });

  test("gated launch (the one-shot backend's): the gate is PID 1 with the hard bound, the tool's argv follows", () => {
    const s = spec({ tool: tool({ limits: { timeoutMs: 2500 } }), launch: gatedCommand });
    assert.deepEqual(s.Entrypoint, ["/bin/sh", "-c", GATE_SCRIPT, "warden-gate", `${3 + HARD_BOUND_GRACE_S}s`]);
    assert.deepEqual(s.Cmd, ["/usr/bin/python3", "/app/main.py"]);
  });

  test("the manifest's command replaces the image's CMD, after its ENTRYPOINT", () => {
    assert.deepEqual(spec({ tool: tool({ command: ["/app/other.py", "--x"] }), launch: gatedCommand }).Cmd, ["/usr/bin/python3", "/app/other.py", "--x"]);
  });

  test("direct launch: the plain argv, no gate", () => {
    const s = spec();
    assert.deepEqual(s.Entrypoint, ["/usr/bin/python3", "/app/main.py"]);
    assert.deepEqual(s.Cmd, []);
  });

  test("no command at all, or no image, is refused", () => {
    assert.throws(() => spec({ image: { ...image, entrypoint: [], cmd: [] } }), (e: Error & { code?: string }) => e.code === "E_SANDBOX_UNAVAILABLE");
    assert.throws(() => spec({ tool: tool({ image: undefined }) }), (e: Error & { code?: string }) => e.code === "E_SANDBOX_UNAVAILABLE");
  });

  test("stdin protocol: open, once, attached, no tty", () => {
    const s = spec();
    assert.equal(s.OpenStdin, true);
    assert.equal(s.StdinOnce, true);
    assert.equal(s.AttachStdin, true);
    assert.equal(s.AttachStdout, true);
    assert.equal(s.AttachStderr, true);
    assert.equal(s.Tty, false);
  });

  test("each image VOLUME path gets a small noexec tmpfs, unless a granted volume is mounted there", () => {
    const h = host({
      image: { ...image, volumes: ["/var/lib/x", "/tmp", "/mnt/data"] },
      tool: tool({ volumes: [{ volume: "data", access: "read", hostPath: "/srv/data" }] }),
    });
    assert.deepEqual(h.Tmpfs, { "/tmp": "rw,noexec,nosuid,nodev,size=16m", "/var/lib/x": VOLUME_TMPFS_OPTIONS });
    assert.equal(VOLUME_TMPFS_OPTIONS, "rw,noexec,nosuid,nodev,size=4m");
  });

  test("env: granted secrets pass; bad names and proxy names are refused", () => {
    assert.deepEqual(spec({ env: { API_KEY: "v1", _x2: "v2" } }).Env, ["API_KEY=v1", "_x2=v2"]);
    for (const name of ["A=x\nB", "1ABC", "A-B", "", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "http_proxy"])
      assert.throws(() => spec({ env: { [name]: "v" } }), (e: Error & { code?: string }) => e.code === "E_SANDBOX_UNAVAILABLE", JSON.stringify(name));
  });

  test("egress sets the four proxy variables to the proxy, and only with egress", () => {
    const env = spec({ tool: tool({ network: true }), egress, env: { K: "v" } }).Env ?? [];
    assert.deepEqual(env, ["K=v", ...["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"].map((n) => `${n}=${egress.proxyUrl}`)]);
    assert.deepEqual(spec().Env, []);
  });

  test("poolKey differs when anything the container was created from differs", () => {
    const base = poolKey(tool(), { K: "v" });
    assert.equal(poolKey(tool(), { K: "v" }), base);
    assert.notEqual(poolKey(tool({ limits: { pids: 8 } }), { K: "v" }), base);
    assert.notEqual(poolKey(tool({ network: true }), { K: "v" }), base);
    assert.notEqual(poolKey(tool(), { K: "w" }), base);
    assert.notEqual(poolKey(tool({ digest: "sha256:" + "c".repeat(64) }), { K: "v" }), base);
  });
});
