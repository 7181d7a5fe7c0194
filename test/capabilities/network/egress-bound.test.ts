/**
 * The per-call bound on egress records (issue 17, item 1): shared by ctx.fetch
 * (isolate tools, through the tool host) and the container egress proxy.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createToolHost } from "../../../src/broker/tool-host.js";
import type { RegisteredTool } from "../../../src/broker/registry.js";
import { EGRESS_HOST_MAX, EGRESS_RECORDS_MAX, EgressRecordBound } from "../../../src/capabilities/network/index.js";
import type { EgressRecord } from "../../../src/capabilities/types.js";

const refused = (host: string): EgressRecord => ({ host, port: 443, method: "CONNECT", status: null, bytes: 0, denied: `not allowed: ${host}` });

describe("egress record bound", () => {
  test("keeps the first records (hosts and reasons cut), then one summary updated in place", () => {
    const bound = new EgressRecordBound(3);
    const list: EgressRecord[] = [];
    const push = (r: EgressRecord): void => {
      const kept = bound.admit(r);
      if (kept) list.push(kept);
    };
    for (let i = 0; i < 5; i++) push(refused(`${"a".repeat(8000)}-${i}.evil.test`));
    push({ host: "ok.example", port: 443, method: "CONNECT", status: 200, bytes: 10 });
    assert.equal(list.length, 4);
    assert.ok(list.slice(0, 3).every((r) => r.host.length === EGRESS_HOST_MAX + 1 && r.denied!.length <= 301));
    assert.equal(list[3]!.host, "(3 more egress attempts not recorded: at most 3 records per call)");
    assert.equal(list[3]!.denied, "2 more refused");
    assert.equal(list[3]!.bytes, 10);
    assert.equal(bound.dropped, 3);
  });

  test("an isolate tool looping refused fetches gets the same bound in its call's egress list", async () => {
    const tool = { name: "loop_tool", capabilities: { network: [], filesystem: [] }, limits: { outputBytes: 1000 } } as unknown as RegisteredTool;
    const { host, egress } = createToolHost(tool, new AbortController().signal, {}, []);
    for (let i = 0; i < EGRESS_RECORDS_MAX + 40; i++) await host.fetch({ url: `https://${"b".repeat(5000)}${i}.evil.test/` });
    assert.equal(egress.length, EGRESS_RECORDS_MAX + 1);
    assert.ok(egress.every((r) => r.host.length <= EGRESS_HOST_MAX + 1));
    assert.equal(egress.at(-1)!.denied, "40 more refused");
  });
});
