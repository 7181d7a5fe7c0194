/**
 * Egress of a hosted MCP server, once per egress mode (config `container.egress`, issue 13 §2): `host`
 * (the proxy in warden's process) and `container` (warden/egress:1 beside the server). In `container`
 * mode the upstream runs in a container on the proxy's outbound network, granted by a name the proxy
 * resolves there (its address does not exist yet when the grant is approved).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { LABEL } from "../../../sandboxes/docker/labels.js";
import { readAudit } from "../../helpers/audit-read.js";
import { connectStdio } from "../../helpers/server.js";
import { waitFor } from "../../helpers/wait.js";
import { docker } from "../container/fixture.js";
import { startUpstream, type Upstream } from "../container/upstream.js";
import { approveFixture, FIXTURE_SECRET, fixtureManifest, fixtureWorkspace, requireServerBackend } from "./fixture.js";

const MODES = process.env.WARDEN_TEST_EGRESS ? [process.env.WARDEN_TEST_EGRESS as "host" | "container"] : (["host", "container"] as const);

for (const mode of MODES)
  test(`a hosted server granted one host reaches it through the egress proxy (${mode} mode), nothing else, and each exchange is audited with the call`, async (t) => {
    if (!(await requireServerBackend(t))) return;
    // host mode: bound to loopback only, reachable by the in-process proxy, never directly from the container.
    const local = createServer((req, res) => res.end(`upstream saw ${req.url}`));
    await new Promise<void>((r) => local.listen(0, "127.0.0.1", () => r()));
    const alias = `upstream-${randomBytes(4).toString("hex")}.warden-test`;
    const origin = mode === "host" ? `http://127.0.0.1:${(local.address() as AddressInfo).port}` : `http://${alias}:8080`;
    const base = fixtureManifest();
    const ws = fixtureWorkspace(
      { grants: { fixture: { network: [{ host: origin, allowPrivate: true }] } }, container: { egress: mode } },
      { capabilities: { ...(base.capabilities as object), network: { allow: [origin] } } },
    );
    await approveFixture(ws.configPath);
    const c = await connectStdio(ws.configPath, { env: { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET } });
    let upstream: Upstream | undefined;
    try {
      const fetch = async (url: string) => JSON.parse(((await c.client.callTool({ name: "fx_fetch", arguments: { url } })).content as Array<{ text: string }>)[0]!.text);
      const denied = await fetch("http://evil.example/steal");
      assert.ok(denied.status === 403 || denied.error, `a host outside the grant is refused: ${JSON.stringify(denied)}`);
      if (mode === "container") {
        // The first networked call started the proxy container and its outbound network: put the upstream there.
        const lease = `${hostname()}/${c.transport.pid}/`;
        let network: string | undefined;
        await waitFor(async () => {
          const nets = await docker.listNetworks({ filters: { label: [LABEL.server] } });
          network = nets.find((n) => n.Name.startsWith("warden-out-") && n.Labels?.[LABEL.lease]?.startsWith(lease))?.Name;
          return network !== undefined;
        }, "the server's outbound network");
        upstream = await startUpstream(docker, network!, network!.slice("warden-out-".length), alias);
      }
      const ok = await fetch(`${origin}/hello`);
      assert.equal(ok.status, 200, JSON.stringify(ok));
      assert.match(ok.body, /upstream saw (GET )?\/hello/);
      const metadata = await fetch("http://169.254.169.254/latest/meta-data/");
      assert.ok(metadata.status === 403 || metadata.error, JSON.stringify(metadata));
      const records = readAudit(ws.auditFile).filter((r) => r.tool === "fx_fetch");
      const egress = records.flatMap((r) => r.egress as Array<{ host: string; status: number | null; denied?: string }>);
      const host = new URL(origin).hostname;
      assert.ok(egress.some((e) => e.host === host && e.status === 200), JSON.stringify(egress));
      assert.ok(egress.some((e) => e.host === "evil.example" && e.denied), JSON.stringify(egress));
      assert.ok(egress.some((e) => e.host === "169.254.169.254" && e.denied), JSON.stringify(egress));
    } finally {
      await upstream?.close();
      await c.close();
      local.close();
    }
  });
