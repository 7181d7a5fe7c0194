/**
 * SPEC §4 hardening, proven from inside a real container: each test runs a
 * probe in the fixture image and would fail if the setting that stops the
 * attack were removed from container-spec.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { LABEL } from "../../../sandboxes/docker/index.js";
import { buildToolImage } from "../../../sandboxes/docker/images.js";
import type { Executor } from "../../../sandboxes/executor.js";
import { assertCode, call, docker, fixtureTool, probe, repoRoot, requireDocker, TEST_RUNTIME } from "./fixture.js";

describe("container hardening (from inside the container)", () => {
  let executor: Executor;
  const workdir = mkdtempSync(join(tmpdir(), "warden-ctr-hardening-"));

  before(() => {
    executor = createContainerExecutor({ docker, runtime: TEST_RUNTIME, serverId: `hardening${process.pid}`, poolSize: 1, reapIntervalMs: 0 });
  });
  after(async () => {
    await executor.close();
    rmSync(workdir, { recursive: true, force: true });
  });

  test("the tool runs as uid/gid 65534, not root", async (t) => {
    if (!(await requireDocker(t))) return;
    assert.deepEqual(await probe(executor, "result = [os.getuid(), os.getgid(), os.geteuid()]"), [65534, 65534, 65534]);
  });

  test("the tool holds no capabilities (CapEff, CapPrm and CapBnd all zero)", async (t) => {
    if (!(await requireDocker(t))) return;
    const caps = (await probe(
      executor,
      "result = {l.split(':')[0]: l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')}",
    )) as Record<string, string>;
    assert.equal(caps.CapEff, "0000000000000000");
    assert.equal(caps.CapPrm, "0000000000000000");
    assert.equal(caps.CapBnd, "0000000000000000");
  });

  test("no-new-privileges is set, so setuid binaries cannot raise privileges", async (t) => {
    if (!(await requireDocker(t))) return;
    // gVisor's /proc/self/status has no NoNewPrivs line: ask the kernel (PR_GET_NO_NEW_PRIVS = 39) there.
    const flag = await probe(
      executor,
      TEST_RUNTIME === "runsc"
        ? "import ctypes; result = str(ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"
        : "result = [l.split()[1] for l in open('/proc/self/status') if l.startswith('NoNewPrivs')][0]",
    );
    assert.equal(flag, "1");
  });

  test("the default seccomp profile is on", async (t) => {
    if (!(await requireDocker(t))) return;
    const mode = await probe(executor, "result = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')][0]");
    assert.equal(mode, "2", "2 = seccomp filter mode");
  });

  test("the root filesystem is read-only", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import errno
result = {}
for path in ['/app/backdoor.py', '/etc/passwd-new', '/usr/bin/x', '/var/tmp/backdoor']:
    try:
        open(path, 'w').close(); result[path] = 'written'
    except OSError as e:
        result[path] = errno.errorcode[e.errno]`,
    );
    // gVisor checks permissions before the read-only mount: uid 65534 gets EACCES on root-owned directories
    // there. /var/tmp (mode 1777, writable by anyone) is what proves the mount itself read-only under both.
    const denied = TEST_RUNTIME === "runsc" ? "EACCES" : "EROFS";
    assert.deepEqual(result, { "/app/backdoor.py": denied, "/etc/passwd-new": denied, "/usr/bin/x": denied, "/var/tmp/backdoor": "EROFS" });
  });

  test("the Docker socket is not there", async (t) => {
    if (!(await requireDocker(t))) return;
    assert.deepEqual(await probe(executor, "result = [os.path.exists(p) for p in ['/var/run/docker.sock', '/run/docker.sock']]"), [false, false]);
  });

  test("mount and unshare are refused", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = (await probe(
      executor,
      `
os.makedirs('/tmp/m', exist_ok=True)
m = subprocess.run(['mount', '-t', 'tmpfs', 'none', '/tmp/m'], capture_output=True, text=True)
u = subprocess.run(['unshare', '--user', '--map-root-user', 'true'], capture_output=True, text=True)
n = subprocess.run(['unshare', '--mount', 'true'], capture_output=True, text=True)
result = {'mount': m.returncode, 'unshareUser': u.returncode, 'unshareMount': n.returncode}`,
    )) as Record<string, number>;
    assert.notEqual(result.mount, 0, "mount must fail");
    assert.notEqual(result.unshareUser, 0, "user namespaces must be refused");
    assert.notEqual(result.unshareMount, 0, "mount namespaces must be refused");
  });

  test("raw sockets are refused (no CAP_NET_RAW: no spoofing, no ping sweeps)", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import socket, errno
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); result = 'opened'
except OSError as e:
    result = errno.errorcode[e.errno]`,
    );
    // gVisor has no raw sockets at all unless runsc runs with --net-raw (docs/deployment.md: never set it).
    assert.equal(result, TEST_RUNTIME === "runsc" ? "EAFNOSUPPORT" : "EPERM");
  });

  test("a fork bomb stops at the pids limit", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = (await probe(
      executor,
      `
import errno, time
forked = 0
err = None
while forked < 1000:
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode[e.errno]; break
    if pid == 0:
        time.sleep(30); os._exit(0)
    forked += 1
result = {'forked': forked, 'error': err}`,
      // Under runsc the memory limit also holds gVisor's sentry and its page tables for 15 Python processes:
      // 64 MiB ends in E_MEMORY before the pids limit is reached (measured), so that run gets 256 MiB.
      { limits: { ...fixtureTool("probe").limits, pids: 16, ...(TEST_RUNTIME === "runsc" ? { memoryMb: 256 } : {}) } },
    )) as { forked: number; error: string };
    assert.equal(result.error, "EAGAIN");
    assert.ok(result.forked < 16, `forked ${result.forked} processes with a pids limit of 16`);
  });

  test("a memory bomb ends with E_MEMORY", async (t) => {
    if (!(await requireDocker(t))) return;
    const tool = fixtureTool("memory-bomb", { limits: { ...fixtureTool("x").limits, memoryMb: 32 } });
    assertCode(await call(executor, tool, {}), "E_MEMORY");
  });

  test("/tmp is a small tmpfs: filling it stops at 16 MiB", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = (await probe(
      executor,
      `
import errno
written = 0
err = None
with open('/tmp/fill', 'wb') as f:
    try:
        while written < 64 * 1024 * 1024:
            f.write(b'x' * 1048576); f.flush(); written += 1048576
    except OSError as e:
        err = errno.errorcode[e.errno]
result = {'written': written, 'error': err}`,
    )) as { written: number; error: string };
    assert.equal(result.error, "ENOSPC");
    assert.ok(result.written <= 16 * 1024 * 1024);
  });

  test("/tmp is noexec: a dropped binary cannot be run", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import shutil, errno
shutil.copy('/bin/true', '/tmp/t'); os.chmod('/tmp/t', 0o755)
try:
    subprocess.run(['/tmp/t']); result = 'ran'
except OSError as e:
    result = errno.errorcode[e.errno]`,
    );
    assert.equal(result, "EACCES");
  });

  test("an output flood is cut with E_OUTPUT_TOO_LARGE", async (t) => {
    if (!(await requireDocker(t))) return;
    assertCode(await call(executor, fixtureTool("output-flood"), {}), "E_OUTPUT_TOO_LARGE");
  });

  test("without network the container has only loopback and cannot reach the host", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = (await probe(
      executor,
      `
import socket, errno
ifaces = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:])
try:
    socket.create_connection(('172.17.0.1', 2375), timeout=2); reach = 'connected'
except OSError as e:
    reach = errno.errorcode.get(e.errno, str(e))
result = {'ifaces': ifaces, 'reach': reach}`,
    )) as { ifaces: string[]; reach: string };
    assert.deepEqual(result.ifaces, ["lo"]);
    assert.equal(result.reach, "ENETUNREACH");
  });

  test("a read-only volume is readable, not writable, and no other volume is visible", async (t) => {
    if (!(await requireDocker(t))) return;
    const data = join(workdir, "data");
    const secret = join(workdir, "not-granted");
    mkdirSync(data);
    mkdirSync(secret);
    writeFileSync(join(data, "hello.txt"), "hello volume");
    writeFileSync(join(secret, "private.txt"), "must stay invisible");
    chmodSync(data, 0o777);
    const result = await probe(
      executor,
      `
import errno
try:
    open('/mnt/data/new.txt', 'w').close(); write = 'written'
except OSError as e:
    write = errno.errorcode[e.errno]
result = {'read': open('/mnt/data/hello.txt').read(), 'write': write, 'mnt': sorted(os.listdir('/mnt')),
          'mounts': sorted(l.split()[1] for l in open('/proc/self/mounts') if l.split()[1].startswith('/mnt'))}`,
      { volumes: [{ volume: "data", access: "read", hostPath: data }] },
    );
    assert.deepEqual(result, { read: "hello volume", write: "EROFS", mnt: ["data"], mounts: ["/mnt/data"] });
  });

  test("a read-write volume is writable", async (t) => {
    if (!(await requireDocker(t))) return;
    const out = join(workdir, "out");
    mkdirSync(out);
    chmodSync(out, 0o777);
    const result = await probe(executor, "open('/mnt/out/r.txt', 'w').write('from the tool'); result = os.listdir('/mnt/out')", {
      volumes: [{ volume: "out", access: "read-write", hostPath: out }],
    });
    assert.deepEqual(result, ["r.txt"]);
  });

  test("the tool sees only the secrets it was granted, as environment variables", async (t) => {
    if (!(await requireDocker(t))) return;
    const names = ["API_KEY", "OTHER_SECRET", "HTTP_PROXY", "DOCKER_HOST"];
    const granted = await call(executor, fixtureTool("env"), { names }, { env: { API_KEY: "s3cr3t-value" } });
    assert.deepEqual(granted, {
      ok: true,
      output: { API_KEY: "s3cr3t-value", OTHER_SECRET: null, HTTP_PROXY: null, DOCKER_HOST: null },
      outputBytes: Buffer.byteLength(JSON.stringify({ API_KEY: "s3cr3t-value", OTHER_SECRET: null, HTTP_PROXY: null, DOCKER_HOST: null })),
    });
    const none = await call(executor, fixtureTool("env"), { names });
    assert.equal(none.ok && (none.output as Record<string, unknown>).API_KEY, null);
  });

  test("io_uring is refused by warden's seccomp profile (Docker 20.10's default allows it)", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 8, params)  # io_uring_setup(entries, params), x86_64 and aarch64 alike
result = {'fd': fd, 'errno': ctypes.get_errno()}`,
    );
    const { fd, errno } = result as { fd: number; errno: number };
    assert.equal(fd, -1, "io_uring_setup returned no fd");
    // EPERM from the profile (runc); ENOSYS from gVisor, whose io_uring is off by default.
    assert.ok(errno === 1 || errno === 38, `errno ${errno}`);
  });

  test("memfd_create is refused, so memfd + execve cannot run a dropped binary", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import errno
try:
    fd = os.memfd_create('x')
    os.write(fd, open('/bin/true', 'rb').read())
    pid = os.fork()
    if pid == 0:
        os.execve(fd, ['true'], {})
    result = 'ran: %d' % os.waitpid(pid, 0)[1]
except OSError as e:
    result = errno.errorcode[e.errno]`,
    );
    assert.equal(result, "EPERM");
  });

  test("threads, subprocesses and sockets still work under the profile", async (t) => {
    if (!(await requireDocker(t))) return;
    const result = await probe(
      executor,
      `
import threading, socket
seen = []
th = threading.Thread(target=lambda: seen.append(1)); th.start(); th.join()
s = socket.socket(); s.close()
result = [seen, subprocess.run(['sh', '-c', 'echo sub'], capture_output=True, text=True).stdout.strip()]`,
    );
    assert.deepEqual(result, [[1], "sub"]);
  });

  test("an image's VOLUME paths get small noexec tmpfs mounts, never an anonymous disk volume", async (t) => {
    if (!(await requireDocker(t))) return;
    const image = "warden-test/volume-decl:1";
    await buildToolImage(docker, join(repoRoot(), "test", "fixtures", "container-tools", "volume-decl"), image, () => {});
    const tool = fixtureTool("probe", { name: "fixture_volume_decl", image, command: undefined });
    const code = `
import errno, os, shutil, subprocess
def attempt(f):
    try:
        return f()
    except OSError as e:
        return errno.errorcode[e.errno]
def fill():
    with open('/data/big', 'wb') as f:
        for _ in range(64):
            f.write(b'x' * (1 << 20))
    return 'wrote 64 MiB'
def run_copy():
    if os.path.exists('/data/big'):
        os.remove('/data/big')
    shutil.copy('/bin/true', '/data/t'); os.chmod('/data/t', 0o755)
    return subprocess.run(['/data/t']).returncode
mounts = {l.split()[1]: (l.split()[2], l.split()[3]) for l in open('/proc/self/mounts')}
result = {'fill': attempt(fill), 'exec': attempt(run_copy), 'data': mounts.get('/data'), 'cache': mounts.get('/var/cache/tool')}`;
    const pending = call(executor, tool, { code });
    let info: Awaited<ReturnType<ReturnType<typeof docker.getContainer>["inspect"]>> | undefined;
    for (let i = 0; i < 100 && !info; i++) {
      const [c] = await docker.listContainers({ all: true, filters: { label: [`${LABEL.tool}=fixture_volume_decl`] } });
      if (c) info = await docker.getContainer(c.Id).inspect().catch(() => undefined);
      else await new Promise((r) => setTimeout(r, 50));
    }
    const outcome = await pending;
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    const result = (outcome as { output: Record<string, unknown> }).output;
    assert.equal(result.fill, "ENOSPC", "the cover is small");
    assert.equal(result.exec, "EACCES", "and noexec");
    assert.equal((result.data as string[])[0], "tmpfs");
    assert.match((result.data as string[])[1]!, /noexec/);
    assert.equal((result.cache as string[])[0], "tmpfs");
    assert.ok(info, "the container was inspected");
    assert.deepEqual(info!.Mounts.filter((m) => m.Type === "volume"), [], "no anonymous volume on the host disk");
  });
});
