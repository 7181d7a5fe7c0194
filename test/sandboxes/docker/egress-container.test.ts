/**
 * The proxy container's start-up bound (issue 13 §2): a proxy that keeps failing is not restarted
 * without end — past RESTARTS_MAX starts in a minute networked calls are refused at once, naming why.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { egressProxyName, RESTARTS_MAX } from "../../../sandboxes/docker/egress-container.js";
import { EgressGateway } from "../../../sandboxes/docker/egress-gateway.js";
import { waitFor } from "../../helpers/wait.js";
import { docker, requireDocker } from "../container/fixture.js";

test("a proxy container that cannot start is tried at most RESTARTS_MAX times a minute, then networked calls are refused", async (t) => {
  if (!(await requireDocker(t))) return;
  // warden/base:1 has no proxy in it: every start fails, as a crash-looping proxy would.
  const gateway = new EgressGateway({ docker, serverId: `eloop${process.pid}`, mode: "container", image: "warden/base:1" });
  try {
    for (let i = 0; i < RESTARTS_MAX; i++)
      await assert.rejects(gateway.ready(), (err: { code?: string; message?: string }) => err.code === "E_SANDBOX_UNAVAILABLE" && !/within a minute/.test(err.message ?? ""));
    await assert.rejects(gateway.ready(), (err: { code?: string; message?: string }) => err.code === "E_SANDBOX_UNAVAILABLE" && /within a minute/.test(err.message ?? ""));
    await assert.rejects(
      gateway.bind("10.0.0.9", { callId: "c", tool: "t", grants: [], onEgress: () => {} }),
      (err: { code?: string }) => err.code === "E_SANDBOX_UNAVAILABLE",
    );
    const left = await docker.listContainers({ all: true, filters: { label: [`warden.server=eloop${process.pid}`] } });
    assert.deepEqual(left, [], "no failed proxy container is left behind");
  } finally {
    await gateway.close();
  }
});

test("a binding that outlives its calls (a hosted server) gets a new proxy at once when its proxy dies; the call in flight then fails closed, later ones do not", async (t) => {
  if (!(await requireDocker(t))) return;
  const id = `ehosted${process.pid}`;
  const gateway = new EgressGateway({ docker, serverId: id, mode: "container" });
  const ip = "172.31.200.9";
  try {
    await gateway.ready();
    await gateway.bind(ip, { callId: "server:abc", tool: "t", grants: [], onEgress: () => {} });
    const callStarted = Date.now();
    await gateway.flush(ip, callStarted);
    const first = (await docker.getContainer(egressProxyName(id)).inspect()).Id;
    await docker.getContainer(egressProxyName(id)).kill();
    // Restarted without any new call asking for it: the hosted server stays bound.
    await waitFor(async () => docker.getContainer(egressProxyName(id)).inspect().then((i) => i.Id !== first && i.State.Running, () => false), "a new proxy container");
    await waitFor(() => gateway.flush(ip, Date.now()).then(() => true, () => false), "the new proxy to answer");
    // The call that was in flight when the proxy died: its records may be lost.
    await assert.rejects(gateway.flush(ip, callStarted), (err: { code?: string }) => err.code === "E_SANDBOX_UNAVAILABLE");
    await assert.rejects(gateway.unbind(ip), (err: { code?: string }) => err.code === "E_SANDBOX_UNAVAILABLE");
  } finally {
    await gateway.close();
  }
});
