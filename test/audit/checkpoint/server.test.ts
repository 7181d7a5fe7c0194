import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { generateSigningKey } from "../../../src/audit/index.js";
import { runCli } from "../../../src/cli/main.js";
import { connectHttp, connectStdio, startHttpServer } from "../../helpers/server.js";
import { approveAll, makeWorkspace } from "../../helpers/workspace.js";
import { TEST_TOOLS } from "../../mcp/tools.js";
import { tempDir } from "../audit-fixtures.js";

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function getJson(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    request(url, { method: "GET" }, (res) => {
      let body = "";
      res.on("data", (d) => (body += String(d)));
      res.on("end", () => resolve(JSON.parse(body) as Record<string, unknown>));
    })
      .on("error", reject)
      .end();
  });
}

/** Outside the workspace (the audit folder): a separate temp dir holding the key and the checkpoint file. */
async function anchor() {
  const dir = await tempDir();
  const key = await generateSigningKey(join(dir, "signing.key"));
  return { dir, key, checkpointFile: join(dir, "checkpoints.jsonl") };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe("audit checkpoints in a running server", () => {
  test("SIGTERM writes a final checkpoint of the last record, and it verifies", async () => {
    const a = await anchor();
    const ws = makeWorkspace({
      tools: { adder: TEST_TOOLS.adder! },
      config: { audit: { file: "./audit.jsonl", checkpoint: { every: 1000, intervalSec: 3600, key: a.key.privateKeyFile, sink: { file: a.checkpointFile } } } },
    });
    await approveAll(ws);
    const conn = await connectStdio(ws.configPath);
    for (let i = 0; i < 3; i++) {
      const result = await conn.client.callTool({ name: "adder", arguments: { a: i, b: 1 } });
      assert.equal(result.isError, undefined);
    }
    await assert.rejects(readFile(a.checkpointFile), { code: "ENOENT" }, "every 1000 records and an hour: nothing signed yet");
    const pid = conn.transport.pid!;
    process.kill(pid, "SIGTERM");
    await until(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, "the server to exit");
    const checkpoints = (await readFile(a.checkpointFile, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { seq: number });
    assert.deepEqual(checkpoints.map((c) => c.seq), [3]);
    let out = "";
    const code = await runCli(["audit", "verify", ws.auditFile, "--checkpoints", a.checkpointFile, "--pubkey", a.key.publicKeyFile], { stdout: (t) => void (out += t), stderr: (t) => void (out += t) });
    assert.equal(code, 0, out);
    assert.match(out, /^ok: 3 records and 1 checkpoints verified/);
    await conn.close().catch(() => {});
  });

  test("a webhook sink that hangs does not slow calls (same run, no-checkpoint baseline), raises an alert and shows in /healthz", async () => {
    const a = await anchor();
    const hung: ServerResponse[] = [];
    const alerts: Array<{ kind: string; reason: string }> = [];
    const sink = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += String(d)));
      req.on("end", () => {
        if (req.url === "/alerts") {
          alerts.push(JSON.parse(body) as { kind: string; reason: string });
          res.writeHead(204).end();
        } else hung.push(res); // the checkpoint anchor never answers
      });
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    after(() => {
      for (const res of hung) res.destroy();
      sink.closeAllConnections();
      sink.close();
    });

    const baselineWs = makeWorkspace({ tools: { adder: TEST_TOOLS.adder! } });
    const ws = makeWorkspace({
      tools: { adder: TEST_TOOLS.adder! },
      config: {
        alerts: { webhook: `${base}/alerts` },
        audit: { file: "./audit.jsonl", checkpoint: { every: 1, intervalSec: 3600, alertAfterSec: 0.3, key: a.key.privateKeyFile, sink: { webhook: `${base}/anchor` } } },
      },
    });
    await approveAll(baselineWs);
    await approveAll(ws);

    const timeCalls = async (configPath: string) => {
      const srv = await startHttpServer(configPath);
      const conn = await connectHttp(srv.url);
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        const result = await conn.client.callTool({ name: "adder", arguments: { a: i, b: 1 } });
        times.push(performance.now() - t);
        assert.equal(result.isError, undefined);
      }
      return { srv, conn, p50: median(times.slice(5)) };
    };
    const baseline = await timeCalls(baselineWs.configPath);
    await baseline.conn.close();
    await baseline.srv.stop();
    const withHang = await timeCalls(ws.configPath);
    assert.ok(withHang.p50 < baseline.p50 * 2 + 5, `p50 ${withHang.p50.toFixed(2)} ms with a hanging checkpoint webhook vs ${baseline.p50.toFixed(2)} ms without`);

    await until(() => alerts.some((x) => x.kind === "audit_checkpoint_failed"), "the checkpoint alert");
    assert.match(alerts.find((x) => x.kind === "audit_checkpoint_failed")!.reason, /sink webhook has not delivered since/);
    const health = await getJson(`${withHang.srv.origin}/healthz`);
    assert.equal(health.status, "ok");
    assert.match((health.detail as string[])[0]!, /audit checkpoint sink webhook has not delivered since .* pending from seq 1/);
    assert.match(withHang.srv.stderr(), /audit\.checkpoint_sink_down/);
    await withHang.conn.close();
    await withHang.srv.stop();
  });
});
