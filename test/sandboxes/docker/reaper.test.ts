/**
 * The reaper removes what a crashed warden left on the engine (containers,
 * its egress network, its firewall rules) and never touches anything that is
 * not labelled as warden's, nor anything of a live server.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, test } from "node:test";
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { createDockerShared, LABEL, leaseIsAlive, reapLeftovers } from "../../../sandboxes/docker/index.js";
import { currentLease } from "../../../sandboxes/docker/labels.js";
import { buildRoot } from "../../helpers/paths.js";
import { docker, FIXTURE_IMAGE, requireDocker } from "../container/fixture.js";

/** A pid that existed a moment ago and is gone now. */
function deadPid(): number {
  const child = spawnSync("true");
  return child.pid!;
}

async function sleeper(labels: Record<string, string>): Promise<string> {
  const c = await docker.createContainer({ Image: FIXTURE_IMAGE, Cmd: ["sleep", "300"], Labels: labels, HostConfig: { NetworkMode: "none" } });
  await c.start();
  return c.id;
}

async function exists(id: string): Promise<boolean> {
  return docker.getContainer(id).inspect().then(() => true, () => false);
}

const cleanup: string[] = [];
after(async () => {
  await Promise.all(cleanup.map((id) => docker.getContainer(id).remove({ force: true }).catch(() => {})));
});

describe("server leases", () => {
  test("this process's lease is alive; a dead pid, a recycled pid or garbage is not", () => {
    const options = { serverId: "me" };
    assert.equal(leaseIsAlive(currentLease(), options), true);
    assert.equal(leaseIsAlive(`${hostname()}/${deadPid()}/1`, options), false);
    assert.equal(leaseIsAlive(`${hostname()}/${process.pid}/1`, options), false, "same pid, other start tick: a recycled pid");
    assert.equal(leaseIsAlive("garbage", options), false);
    assert.equal(leaseIsAlive(undefined, options), false);
  });

  test("a lease from another host is presumed alive unless the operator asks to reap foreign hosts", () => {
    assert.equal(leaseIsAlive("other-host/1/1", { serverId: "me" }), true);
    assert.equal(leaseIsAlive("other-host/1/1", { serverId: "me", reapForeignHosts: true }), false);
  });
});

describe("reapLeftovers", () => {
  test("removes a dead server's containers and network, spares live servers and unlabelled containers", async (t) => {
    if (!(await requireDocker(t))) return;
    // Other wardens on this shared engine (other test files, other worktrees) reap on their own: a leftover
    // of a dead LOCAL pid may be gone before this pass looks, so for it only the end state is asserted.
    // Which pass removed something is asserted for a leftover only this pass may remove: its lease names
    // another host, presumed alive by every reaper except one run with reapForeignHosts (this one).
    const dead = `deadsrv${process.pid}`;
    const deadLabels = { [LABEL.server]: dead, [LABEL.lease]: `${hostname()}/${deadPid()}/1` };
    const foreign = `foreignsrv${process.pid}`;
    const foreignLabels = { [LABEL.server]: foreign, [LABEL.lease]: `warden-test-gone-host-${process.pid}/1/1` };
    const leftover = await sleeper({ ...deadLabels, [LABEL.tool]: "t", [LABEL.call]: "c1" });
    const foreignLeftover = await sleeper({ ...foreignLabels, [LABEL.tool]: "t", [LABEL.call]: "c2" });
    const unlabelled = await sleeper({ "com.example.app": "not-warden" });
    const live = await sleeper({ [LABEL.server]: `livesrv${process.pid}`, [LABEL.lease]: currentLease() });
    const network = await docker.createNetwork({ Name: `warden-test-dead-${process.pid}`, Internal: true, Labels: deadLabels });
    const foreignNetwork = await docker.createNetwork({ Name: `warden-test-foreign-${process.pid}`, Internal: true, Labels: foreignLabels });
    cleanup.push(leftover, foreignLeftover, unlabelled, live);
    try {
      const report = await reapLeftovers(docker, { serverId: `me${process.pid}`, reapForeignHosts: true });

      assert.ok(report.containers.includes(foreignLeftover), "this pass reports the container it removed");
      assert.ok(report.networks.includes(`warden-test-foreign-${process.pid}`), "this pass reports the network it removed");
      assert.equal(await exists(foreignLeftover), false);
      assert.equal(await exists(leftover), false, "the dead local server's container is gone (by this pass or a concurrent one)");
      assert.equal(await network.inspect().then(() => true, () => false), false);
      assert.equal(await foreignNetwork.inspect().then(() => true, () => false), false);
      assert.equal(await exists(unlabelled), true, "an unlabelled container is never touched");
      assert.equal(await exists(live), true, "a live server's container is never touched");
    } finally {
      await network.remove().catch(() => {});
      await foreignNetwork.remove().catch(() => {});
    }
  });

  for (const mode of ["host", "container"] as const)
  test(`after kill -9 of a warden (${mode} egress), a restarted warden reaps its containers, networks and firewall rules`, async (t) => {
    if (!(await requireDocker(t))) return;
    const crashed = `crashed${mode[0]}${process.pid}`;
    const moduleUrl = (p: string) => pathToFileURL(join(buildRoot(), p)).href;
    const script = `
      const { createContainerExecutor } = await import(${JSON.stringify(moduleUrl("sandboxes/container/index.js"))});
      const { fixtureTool } = await import(${JSON.stringify(moduleUrl("test/sandboxes/container/fixture.js"))});
      const { EgressGateway } = await import(${JSON.stringify(moduleUrl("sandboxes/docker/egress-gateway.js"))});
      const { docker } = await import(${JSON.stringify(moduleUrl("test/sandboxes/container/fixture.js"))});
      const egress = new EgressGateway({ docker, serverId: ${JSON.stringify(crashed)}, mode: ${JSON.stringify(mode)} });
      const ex = createContainerExecutor({ docker, egress, serverId: ${JSON.stringify(crashed)}, poolSize: 2, reapIntervalMs: 0 });
      await ex.prepare(fixtureTool("echo"));
      await ex.prepare(fixtureTool("probe", { name: "net_tool", network: true }));
      process.stdout.write("ready\\n");
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--no-node-snapshot", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      child.on("exit", (code) => reject(new Error(`warden child exited early (${code})`)));
    });
    const ours = async (): Promise<number> => (await docker.listContainers({ all: true, filters: { label: [`${LABEL.server}=${crashed}`] } })).length;
    const rules = (): number => execFileSync("iptables", ["-w", "5", "-S"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`warden:${crashed}`)).length;
    // Two warm containers per prepared tool, and in container mode the egress proxy's.
    const expected = mode === "host" ? 4 : 5;
    const networks = async (): Promise<string[]> => (await docker.listNetworks({ filters: { label: [`${LABEL.server}=${crashed}`] } })).map((n) => n.Name).sort();
    assert.equal(await ours(), expected);
    assert.deepEqual(await networks(), mode === "host" ? [`warden-egress-${crashed}`] : [`warden-egress-${crashed}`, `warden-out-${crashed}`]);
    assert.ok(rules() > 0);

    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(await ours(), expected, "SIGKILL left the containers behind");

    const restarted = createContainerExecutor({ docker, serverId: `restarted${process.pid}`, poolSize: 0, reapIntervalMs: 0 });
    try {
      // The startup reap runs in the background; give it a bounded moment.
      for (let i = 0; i < 60 && (await ours()) > 0; i++) await new Promise((r) => setTimeout(r, 500));
      assert.equal(await ours(), 0);
      for (let i = 0; i < 20 && rules() > 0; i++) await new Promise((r) => setTimeout(r, 500));
      assert.equal(rules(), 0, "the crashed server's firewall rules are gone");
      assert.deepEqual(await networks(), [], "its tool network and (container mode) outbound network are gone");
    } finally {
      await restarted.close();
    }
  });
});

describe("the server's one reaper loop (createDockerShared)", () => {
  test("the shared bundle's startup pass removes a dead server's leftover", async (t) => {
    if (!(await requireDocker(t))) return;
    const leftover = await sleeper({ [LABEL.server]: `deadshared${process.pid}`, [LABEL.lease]: `${hostname()}/${deadPid()}/1`, [LABEL.tool]: "t", [LABEL.call]: "c" });
    cleanup.push(leftover);
    const shared = createDockerShared(undefined, undefined, { reapIntervalMs: 0 });
    try {
      await shared.reaper.firstPass;
      // Other reapers on this engine may have removed it first: the end state is what is asserted.
      assert.equal(await exists(leftover), false, "the dead server's container is gone after the startup pass");
    } finally {
      await shared.close();
    }
  });
});
