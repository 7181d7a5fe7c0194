import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openAuditLog, verifyAuditChain } from "../../src/audit/index.js";
import { captureLogger, sampleEntry, tempDir } from "./audit-fixtures.js";

const CHILD = fileURLToPath(new URL("./fixtures/append-until-killed.js", import.meta.url));

/** Runs the appender child until it has acknowledged `minAcked` records and some more load, then SIGKILLs it. */
function appendUntilKilled(file: string, minAcked: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--no-node-snapshot", CHILD, file], { stdio: ["ignore", "pipe", "inherit"] });
    let highestAcked = 0;
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      for (const m of text.matchAll(/acked (\d+)/g)) highestAcked = Math.max(highestAcked, Number(m[1]));
      if (highestAcked >= minAcked && !killTimer) killTimer = setTimeout(() => child.kill("SIGKILL"), 150);
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      if (signal === "SIGKILL") resolve(highestAcked);
      else reject(new Error(`appender exited on its own (signal ${signal})`));
    });
  });
}

test("a writer SIGKILLed under load leaves a verifiable log, and reopening continues the chain", async () => {
  const file = join(await tempDir(), "audit.jsonl");
  const highestAcked = await appendUntilKilled(file, 500);

  const afterCrash = await verifyAuditChain(file);
  assert.equal(afterCrash.ok, true, afterCrash.reason ?? "");
  assert.ok(afterCrash.lastSeq! >= highestAcked, `every acknowledged append is on disk (${afterCrash.lastSeq} >= ${highestAcked})`);

  const { logger } = captureLogger();
  const log = await openAuditLog(file, { logger });
  assert.equal(log.nextSeq, afterCrash.lastSeq! + 1);
  for (let i = 0; i < 5; i++) await log.append(sampleEntry(i));
  await log.close();

  const afterReopen = await verifyAuditChain(file);
  assert.equal(afterReopen.ok, true, afterReopen.reason ?? "");
  assert.equal(afterReopen.tornTail, false);
  assert.equal(afterReopen.records, afterCrash.records + 5);
});
