/**
 * Review of #15 (found while comparing with fe989cc; the cause predates #15 and #15 kept it): a hosted
 * server's proxy binding is made ONCE per server (mcp-server-executor.ts bindEgress) and the proxy bounds
 * records per binding (egress-proxy.ts bind: `new EgressRecordBound()`), so the "per call" bound of
 * EGRESS_RECORDS_MAX is in fact per SESSION: once a session's server made 256 exchanges, every later call
 * of that session is audited with no egress at all — a server can spend the bound on harmless requests,
 * then send what it likes unaudited (SPEC §9/§15: every exchange joins its call's record). Real Docker,
 * real stdio server, the fixture server's fetch tool.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { EGRESS_RECORDS_MAX } from "../../../src/capabilities/network/index.js";
import { readAudit } from "../../helpers/audit-read.js";
import { connectStdio } from "../../helpers/server.js";
import { approveFixture, FIXTURE_SECRET, fixtureManifest, fixtureWorkspace, requireServerBackend } from "./fixture.js";

test("a session's call after the server's first 256 exchanges still has its exchange in its audit record", async (t) => {
  if (!(await requireServerBackend(t))) return;
  const upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  const port = (upstream.address() as AddressInfo).port;
  const base = fixtureManifest();
  const ws = fixtureWorkspace(
    { grants: { fixture: { network: [{ host: `http://127.0.0.1:${port}`, allowPrivate: true }] } } },
    { capabilities: { ...(base.capabilities as object), network: { allow: [`http://127.0.0.1:${port}`] } }, limits: { timeoutMs: 10_000, memoryMb: 128, outputBytes: 100_000 } },
  );
  await approveFixture(ws.configPath);
  const c = await connectStdio(ws.configPath, { env: { WARDEN_FIXTURE_SECRET: FIXTURE_SECRET } });
  try {
    const fetch = async (url: string) => JSON.parse(((await c.client.callTool({ name: "fx_fetch", arguments: { url } })).content as Array<{ text: string }>)[0]!.text);
    // One session, one server: each call makes one allowed exchange.
    for (let i = 0; i < EGRESS_RECORDS_MAX + 1; i++) assert.equal((await fetch(`http://127.0.0.1:${port}/n${i}`)).status, 200);
    // The next call of the same session: one more allowed exchange.
    const last = await fetch(`http://127.0.0.1:${port}/last`);
    assert.equal(last.status, 200, JSON.stringify(last));
    const records = readAudit(ws.auditFile).filter((r) => r.tool === "fx_fetch");
    assert.equal(records.length, EGRESS_RECORDS_MAX + 2);
    // Every call made exactly one exchange: each call's record holds it.
    const empty = records.flatMap((r, i) => ((r.egress as unknown[]).length === 0 ? [i] : []));
    assert.deepEqual(empty, [], `calls audited with no egress although each made one exchange: #${empty.slice(0, 5).join(", #")}${empty.length > 5 ? ` … (${empty.length})` : ""}`);
  } finally {
    await c.close();
    upstream.close();
  }
});
