/**
 * The create options under each runtime (SPEC §16), without an engine: runc
 * gets exactly what containerSpec built; runsc gets the same §4 settings plus
 * Runtime, the pids rule enforced inside gVisor, and the seccomp profile's
 * clone3 rule adapted to gVisor. The engine-level proofs are in runtime.test.ts
 * and the suites run with WARDEN_TEST_CONTAINER_RUNTIME=runsc.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { containerSpec, directLaunch, type ContainerSpecInput } from "../../../sandboxes/docker/container-spec.js";
import { RUNSC_HOST_PIDS_BASE, RUNSC_HOST_PIDS_PER_PROCESS } from "../../../sandboxes/docker/runtime-spec.js";
import { fixtureTool } from "../container/fixture.js";

type Rule = { names: string[]; action: string; errnoRet?: number };

function input(runtime?: "runc" | "runsc"): ContainerSpecInput {
  return {
    tool: fixtureTool("probe", { limits: { ...fixtureTool("x").limits, pids: 20 } }),
    env: {},
    serverId: "spec-test",
    callId: "c1",
    image: { id: "sha256:abc", entrypoint: [], cmd: ["python3"], volumes: [] },
    launch: directLaunch,
    ...(runtime ? { runtime } : {}),
  };
}

function seccompRules(securityOpt: string[] | undefined): Rule[] {
  const opt = (securityOpt ?? []).find((o) => o.startsWith("seccomp="));
  assert.ok(opt, "a seccomp profile is set");
  return (JSON.parse(opt.slice("seccomp=".length)) as { syscalls: Rule[] }).syscalls;
}

test("runc (and no runtime given): the spec is unchanged, no Runtime key, the pids cgroup holds the tool's limit", () => {
  const plain = containerSpec(input());
  assert.deepEqual(containerSpec(input("runc")), plain);
  assert.equal(plain.HostConfig?.Runtime, undefined);
  assert.equal(plain.HostConfig?.PidsLimit, 20);
  assert.equal(plain.HostConfig?.Ulimits?.find((u) => u.Name === "nproc"), undefined);
});

test("runsc: Runtime set, the tool's pids limit as RLIMIT_NPROC inside gVisor, the host pids cgroup scaled for gVisor's threads", () => {
  const runc = containerSpec(input("runc"));
  const runsc = containerSpec(input("runsc"));
  assert.equal(runsc.HostConfig?.Runtime, "runsc");
  assert.deepEqual(runsc.HostConfig?.Ulimits, [
    { Name: "nofile", Soft: 256, Hard: 256 },
    { Name: "nproc", Soft: 20, Hard: 20 },
  ]);
  assert.equal(runsc.HostConfig?.PidsLimit, RUNSC_HOST_PIDS_BASE + RUNSC_HOST_PIDS_PER_PROCESS * 20);
  // Every other §4 setting is the same as under runc.
  const strip = (s: typeof runc) => ({ ...s, HostConfig: { ...s.HostConfig, Runtime: undefined, Ulimits: undefined, PidsLimit: undefined, SecurityOpt: undefined } });
  assert.deepEqual(strip(runsc), strip(runc));
  assert.ok(runsc.HostConfig?.SecurityOpt?.includes("no-new-privileges:true"));
});

test("runsc: the seccomp profile is the same except clone3, which goes to gVisor (it answers ENOSYS itself)", () => {
  const runcRules = seccompRules(containerSpec(input("runc")).HostConfig?.SecurityOpt);
  const runscRules = seccompRules(containerSpec(input("runsc")).HostConfig?.SecurityOpt);
  const clone3 = (rules: Rule[]) => rules.filter((r) => r.names.includes("clone3"));
  assert.deepEqual(clone3(runcRules), [{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]);
  assert.deepEqual(clone3(runscRules), [{ names: ["clone3"], action: "SCMP_ACT_ALLOW" }]);
  const others = (rules: Rule[]) => rules.filter((r) => !r.names.includes("clone3"));
  assert.deepEqual(others(runscRules), others(runcRules));
});
