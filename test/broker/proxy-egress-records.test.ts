/**
 * Review of #15 (55e82c3): the container egress proxy now hands its records to the call's ToolHost
 * (`host.recordEgress`), which runs them through a SECOND EgressRecordBound. The proxy already bounds
 * per binding and emits ONE summary record it keeps updating in place; before #15 that very object
 * joined the audit record (`entry.egress.push`), so its final count and `denied` were right. Now the
 * host's bound sees the proxy's summary as one more record (status null ⇒ counted "refused") and makes
 * its own frozen summary: a tool with 256 + 5 ALLOWED exchanges is audited as "1 more … not recorded"
 * with `denied: "1 more refused"` — and the broker (broker.ts, `entry.egress.find((e) => e.denied)`)
 * then turns the tool's own E_TOOL_FAILED into E_CAPABILITY_DENIED, which counts toward per-actor
 * quarantine. Real proxy on loopback, real tool host; no Docker.
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { EgressProxy } from "../../sandboxes/docker/egress-proxy.js";
import { createToolHost } from "../../src/broker/tool-host.js";
import type { RegisteredTool } from "../../src/broker/registry.js";
import { authorizeEgress, EGRESS_RECORDS_MAX } from "../../src/capabilities/network/index.js";
import { fakeBroker } from "../helpers/fake-broker.js";
import { isolateManifest } from "../helpers/workspace.js";

const EXTRA = 5;

describe("egress through the container proxy, as the call's audit record keeps it", () => {
  let proxy: EgressProxy;
  let proxyPort = 0;
  let upstream: Server;
  let upstreamPort = 0;

  const viaProxy = (url: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: proxyPort, path: url, headers: { host: new URL(url).host }, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode!));
      });
      req.on("error", reject);
      req.end();
    });

  before(async () => {
    upstream = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    upstreamPort = (upstream.address() as { port: number }).port;
    proxy = new EgressProxy({ authorize: authorizeEgress });
    proxyPort = await proxy.listen("127.0.0.1");
  });
  after(async () => {
    await proxy.close();
    upstream.close();
  });

  test("more allowed exchanges than the bound: the summary counts every one and claims no refusal", async () => {
    // The host of one call, as the broker makes it (createToolHost), wired the way the container backend wires it now.
    const tool = { name: "net_tool", capabilities: { network: [], filesystem: [] }, limits: { timeoutMs: 5000, memoryMb: 64, outputBytes: 65536 } } as unknown as RegisteredTool;
    const { host, egress } = createToolHost(tool, new AbortController().signal, {}, []);
    proxy.bind("127.0.0.1", { callId: "c1", tool: "net_tool", grants: [{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }], onEgress: (r) => host.recordEgress(r) });
    const total = EGRESS_RECORDS_MAX + EXTRA;
    for (let i = 0; i < total; i++) assert.equal(await viaProxy(`http://127.0.0.1:${upstreamPort}/${i}`), 200);
    proxy.unbind("127.0.0.1");

    assert.equal(egress.length, EGRESS_RECORDS_MAX + 1, "the bound keeps MAX records and one summary");
    const summary = egress.at(-1)!;
    assert.match(summary.host, new RegExp(`^\\(${EXTRA} more egress attempts not recorded`), `the summary must count all ${EXTRA} dropped exchanges, got: ${summary.host}`);
    // Every exchange was allowed: a `denied` here makes the broker report E_CAPABILITY_DENIED for a tool's own failure.
    assert.equal(egress.find((e) => e.denied !== undefined), undefined, `no exchange was refused, yet the record says: ${JSON.stringify(egress.find((e) => e.denied !== undefined))}`);
  });

  test("a tool that fails after many allowed exchanges fails E_TOOL_FAILED, not E_CAPABILITY_DENIED", async () => {
    const { broker, executor } = await fakeBroker({ netter: { manifest: isolateManifest("netter"), files: { "index.js": "export default async function run() { return {}; }\n" } } });
    // What the container backend does around a call (container-executor.ts runBound): bind its address with the
    // call's grants and host, run, unbind. The tool's exchanges are all allowed; then it exits with an error.
    executor.next = async (req) => {
      proxy.bind("127.0.0.1", { callId: req.callId, tool: "netter", grants: [{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }], onEgress: (r) => req.host.recordEgress(r) });
      try {
        for (let i = 0; i < EGRESS_RECORDS_MAX + EXTRA; i++) await viaProxy(`http://127.0.0.1:${upstreamPort}/${i}`);
      } finally {
        proxy.unbind("127.0.0.1");
      }
      return { ok: false, error: { code: "E_TOOL_FAILED", message: "the tool's own bug" } };
    };
    const r = await broker.call("netter", {}, { actor: "tester", signal: new AbortController().signal });
    assert.equal(r.ok ? "ok" : r.error.code, "E_TOOL_FAILED", "nothing was refused: the failure is the tool's, and must not count toward the actor's denial quarantine");
  });
});
