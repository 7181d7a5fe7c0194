/**
 * SPEC §16: the configured OCI runtime reaches the containers the backend
 * creates, read back from the engine with `docker inspect` while the call runs.
 * Run under runsc with WARDEN_TEST_CONTAINER_RUNTIME=runsc (.ci/run does).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { LABEL } from "../../../sandboxes/docker/labels.js";
import type { Executor } from "../../../sandboxes/executor.js";
import { docker, probe, requireDocker, TEST_RUNTIME } from "./fixture.js";

describe(`container runtime (${TEST_RUNTIME})`, () => {
  const serverId = `runtime${process.pid}`;
  let executor: Executor;

  before(() => {
    executor = createContainerExecutor({ docker, runtime: TEST_RUNTIME, serverId, poolSize: 0, reapIntervalMs: 0 });
  });
  after(async () => {
    await executor.close();
  });

  test(`docker inspect shows HostConfig.Runtime == "${TEST_RUNTIME}" for a call's container`, async (t) => {
    if (!(await requireDocker(t))) return;
    // The tool runs for ~5 s at most; the test reads its container from the engine while it runs.
    const running = probe(executor, "import time\nfor _ in range(50):\n    time.sleep(0.1)\nresult = 'done'");
    let runtime: string | undefined;
    let pidsLimit: number | undefined;
    let ulimits: Array<{ Name: string; Soft: number }> = [];
    const deadline = Date.now() + 30_000;
    while (runtime === undefined && Date.now() < deadline) {
      const [found] = await docker.listContainers({ all: true, filters: { label: [`${LABEL.server}=${serverId}`] } });
      if (found) {
        const info = await docker.getContainer(found.Id).inspect();
        runtime = info.HostConfig.Runtime;
        pidsLimit = info.HostConfig.PidsLimit ?? undefined;
        ulimits = (info.HostConfig.Ulimits ?? []) as typeof ulimits;
      } else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await running, "done");
    assert.equal(runtime, TEST_RUNTIME);
    if (TEST_RUNTIME === "runsc") {
      // The tool's pids limit (64 by default) is enforced inside gVisor; the host cgroup bounds gVisor's own threads.
      assert.deepEqual(ulimits.find((u) => u.Name === "nproc")?.Soft, 64);
      assert.ok(pidsLimit !== undefined && pidsLimit > 64, `host pids limit ${pidsLimit}`);
    } else {
      assert.equal(pidsLimit, 64);
      assert.equal(ulimits.find((u) => u.Name === "nproc"), undefined);
    }
  });

  test(`the seccomp profile is in force under ${TEST_RUNTIME}: keyctl, allowed by the capabilities, is refused with EPERM`, async (t) => {
    if (!(await requireDocker(t))) return;
    // x86_64 syscall 250 = keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING). Measured: without a seccomp profile it succeeds under
    // runc and fails with EACCES under runsc (gVisor implements it); only the profile answers EPERM. Under runsc this
    // proves the engine passes the profile into gVisor (--oci-seccomp).
    const result = await probe(
      executor,
      "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.syscall(250, 0, -3, 0, 0, 0)\nresult = 'allowed' if r >= 0 else errno.errorcode[ctypes.get_errno()]",
    );
    assert.equal(result, "EPERM");
  });

  test(`clone3 answers ENOSYS under ${TEST_RUNTIME}, so glibc falls back to clone, whose flags the profile checks`, async (t) => {
    if (!(await requireDocker(t))) return;
    // x86_64 syscall 435 = clone3. runc: the profile's errnoRet. runsc: gVisor's own kernel (it has no clone3; the
    // profile lets it through there because gVisor would answer the profile's ENOSYS with EPERM, which breaks
    // every pthread_create). A gVisor that implements clone3 fails this test before namespace flags get past.
    const result = await probe(
      executor,
      "import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.syscall(435, 0, 0)\nresult = 'ran' if r >= 0 else errno.errorcode[ctypes.get_errno()]",
    );
    assert.equal(result, "ENOSYS");
  });
});
