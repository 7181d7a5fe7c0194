import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { checkpointHealth, openAuditLog, startCheckpointer, type Checkpoint } from "../../../src/audit/index.js";
import { checkpointSignatureValid } from "../../../src/audit/checkpoint/checkpoint.js";
import { createAlerter } from "../../../src/incident/alerts.js";
import { captureLogger, sampleEntry } from "../audit-fixtures.js";
import { checkpointWorkspace } from "./checkpoint-fixtures.js";

/** A loopback HTTP receiver whose answer the test switches: "ok", "fail" (500) or "hang" (never answers). */
async function receiver() {
  const hung: ServerResponse[] = [];
  const state = {
    url: "",
    bodies: [] as unknown[],
    mode: "ok" as "ok" | "fail" | "hang",
    server: null as unknown as Server,
    /** Drops the requests left hanging (the sender sees a reset and retries). */
    release: () => {
      for (const res of hung.splice(0)) res.destroy();
    },
  };
  state.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d) => (body += String(d)));
    req.on("end", () => {
      if (state.mode === "hang") return void hung.push(res);
      if (state.mode === "fail") return void res.writeHead(500).end();
      state.bodies.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => state.server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/hook`;
  after(() => {
    for (const res of hung) res.destroy();
    state.server.closeAllConnections();
    state.server.close();
  });
  return state;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe("audit checkpoints: sinks", () => {
  test("file, webhook and command sinks each receive the same signed checkpoints", async () => {
    const ws = await checkpointWorkspace();
    const hook = await receiver();
    const commandOut = join(ws.dir, "anchor", "from-command.jsonl");
    const script = join(ws.dir, "sink.sh");
    await writeFile(script, `#!/bin/sh\ncat >> "${commandOut}"\n`);
    await chmod(script, 0o755);
    const { logger } = captureLogger();
    const log = await openAuditLog(ws.auditFile, { logger });
    const checkpointer = await startCheckpointer({
      log,
      logger,
      config: { every: 3, intervalSec: 3600, key: ws.key.privateKeyFile, serverId: "s1", sink: { file: ws.checkpointFile, webhook: hook.url, command: [script] } },
    });
    for (let i = 1; i <= 7; i++) await log.append(sampleEntry(i));
    await log.close();
    await checkpointer.close();

    const fromFile = (await readFile(ws.checkpointFile, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as Checkpoint);
    const fromCommand = (await readFile(commandOut, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as Checkpoint);
    assert.ok(fromFile.length >= 2);
    assert.equal(fromFile.at(-1)!.seq, 7);
    assert.deepEqual(hook.bodies, fromFile);
    assert.deepEqual(fromCommand, fromFile);
    const publicKey = createPublicKey(ws.key.publicKeyPem);
    for (const c of fromFile) assert.ok(checkpointSignatureValid(c, publicKey));
  });

  test("records added within intervalSec get a checkpoint by the timer; an idle chain gets none", async () => {
    const ws = await checkpointWorkspace();
    const { logger } = captureLogger();
    const log = await openAuditLog(ws.auditFile, { logger });
    const checkpointer = await startCheckpointer({ log, logger, config: { every: 1000, intervalSec: 0.05, key: ws.key.privateKeyFile, sink: { file: ws.checkpointFile } } });
    await log.append(sampleEntry(1));
    await log.append(sampleEntry(2));
    await until(async () => (await readFile(ws.checkpointFile, "utf8").catch(() => "")).includes('"seq":2'), "the interval checkpoint");
    const count = (await readFile(ws.checkpointFile, "utf8")).split("\n").filter(Boolean).length;
    await new Promise((r) => setTimeout(r, 300)); // several intervals with nothing new
    assert.equal((await readFile(ws.checkpointFile, "utf8")).split("\n").filter(Boolean).length, count, "no checkpoint without new records");
    await log.close();
    await checkpointer.close();
  });

  test("a hanging webhook does not delay appends, raises an alert, shows in health, and checkpoints resume when it is back", async () => {
    const ws = await checkpointWorkspace();
    const hook = await receiver();
    const alerts = await receiver();
    const { logger, lines } = captureLogger();
    const alerter = createAlerter({ webhook: alerts.url, logger, retries: 0 });

    hook.mode = "hang";
    // Baseline in the same run, interleaved so both see the same disk and CPU load: a log with no checkpointer.
    const baseLog = await openAuditLog(join(ws.dir, "audit", "baseline.jsonl"), { logger });
    const baseline: number[] = [];
    const log = await openAuditLog(ws.auditFile, { logger });
    const checkpointer = await startCheckpointer({
      log,
      logger,
      alerter,
      retry: { initialMs: 20, maxMs: 50, alertAfterMs: 100 },
      shutdownTimeoutMs: 2000,
      config: { every: 1, intervalSec: 3600, key: ws.key.privateKeyFile, serverId: "s1", sink: { webhook: hook.url } },
    });
    const withHang: number[] = [];
    for (let i = 1; i <= 40; i++) {
      let t = performance.now();
      await baseLog.append(sampleEntry(i));
      baseline.push(performance.now() - t);
      t = performance.now();
      await log.append(sampleEntry(i));
      withHang.push(performance.now() - t);
    }
    await baseLog.close();
    assert.ok(median(withHang) < median(baseline) * 3 + 2, `append p50 ${median(withHang).toFixed(2)} ms with a hanging webhook vs ${median(baseline).toFixed(2)} ms without`);

    // A hanging POST never fails by itself before its 10 s timeout: the alert comes from the waiting time.
    await until(() => alerts.bodies.some((b) => (b as { kind: string }).kind === "audit_checkpoint_failed"), "the checkpoint alert");
    const alert = alerts.bodies.find((b) => (b as { kind: string }).kind === "audit_checkpoint_failed") as { reason: string };
    assert.match(alert.reason, /audit checkpoint sink webhook has not delivered since/);
    assert.equal(checkpointHealth().length, 1);
    assert.match(checkpointHealth()[0]!, /sink webhook has not delivered since .* pending from seq 1/);
    assert.ok(lines.some((l) => l.event === "audit.checkpoint_sink_down" && l.level === "error"));

    hook.mode = "fail";
    hook.release();
    await until(() => lines.some((l) => l.event === "audit.checkpoint_delivery_failed" && l.level === "warn"), "a failed attempt logged");
    await until(() => lines.some((l) => l.event === "audit.checkpoint_delivery_failed" && /HTTP 500/.test(String(l.err))), "the 500 logged");
    assert.doesNotMatch(checkpointHealth()[0]!, /HTTP 500/, "the unauthenticated health line carries no error text");
    assert.equal(alerts.bodies.filter((b) => (b as { kind: string }).kind === "audit_checkpoint_failed").length, 1, "one alert per outage");

    hook.mode = "ok";
    await until(() => hook.bodies.some((b) => (b as Checkpoint).seq === 40), "the backlog to be delivered");
    assert.deepEqual(hook.bodies.map((b) => (b as Checkpoint).seq), [...new Set(hook.bodies.map((b) => (b as Checkpoint).seq))].sort((a, b) => a - b), "in order, no duplicates");
    assert.deepEqual(checkpointHealth(), [], "healthy again");
    assert.ok(lines.some((l) => l.event === "audit.checkpoint_delivered_again"));
    await log.close();
    await checkpointer.close();
    await alerter.drain();
  });
});
