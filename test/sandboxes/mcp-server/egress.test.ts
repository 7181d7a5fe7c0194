import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { readAudit } from "../../helpers/audit-read.js";
import { connectStdio } from "../../helpers/server.js";
import { approveFixture, FIXTURE_SECRET, fixtureManifest, fixtureWorkspace, requireServerBackend } from "./fixture.js";


test("a hosted server granted one host reaches it through the egress proxy, nothing else, and each exchange is audited with the call", async (t) => {
  if (!(await requireServerBackend(t))) return;
  // Bound to loopback only: reachable by the proxy on the host, never directly from the container.
  const upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  const port = (upstream.address() as AddressInfo).port;
  const base = fixtureManifest();
  const ws = fixtureWorkspace(
    { grants: { fixture: { network: [{ host: `http://127.0.0.1:${port}`, allowPrivate: true }] } } },
    { capabilities: { ...(base.capabilities as object), network: { allow: [`http://127.0.0.1:${port}`] } } },
  );
  await approveFixture(ws.configPath);
  const c = await connectStdio(ws.configPath, { env: { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET } });
  try {
    const fetch = async (url: string) => JSON.parse(((await c.client.callTool({ name: "fx_fetch", arguments: { url } })).content as Array<{ text: string }>)[0]!.text);
    const ok = await fetch(`http://127.0.0.1:${port}/hello`);
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.match(ok.body, /upstream saw \/hello/);
    const denied = await fetch("http://evil.example/steal");
    assert.ok(denied.status === 403 || denied.error, `a host outside the grant is refused: ${JSON.stringify(denied)}`);
    const metadata = await fetch("http://169.254.169.254/latest/meta-data/");
    assert.ok(metadata.status === 403 || metadata.error, JSON.stringify(metadata));
    const records = readAudit(ws.auditFile).filter((r) => r.tool === "fx_fetch");
    const egress = records.flatMap((r) => r.egress as Array<{ host: string; status: number | null; denied?: string }>);
    assert.ok(egress.some((e) => e.host === "127.0.0.1" && e.status === 200), JSON.stringify(egress));
    assert.ok(egress.some((e) => e.host === "evil.example" && e.denied), JSON.stringify(egress));
  } finally {
    await c.close();
    upstream.close();
  }
});
