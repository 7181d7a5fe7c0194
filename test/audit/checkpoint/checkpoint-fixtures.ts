import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { generateSigningKey, openAuditLog, startCheckpointer, type Checkpointer } from "../../../src/audit/index.js";
import type { CheckpointConfig } from "../../../src/audit/checkpoint/checkpointer.js";
import type { Alerter } from "../../../src/incident/alerts.js";
import { captureLogger, sampleEntry, tempDir } from "../audit-fixtures.js";

/** A temp folder with audit/ (the log), anchor/ (outside it: the checkpoint file) and an Ed25519 key. */
export async function checkpointWorkspace() {
  const dir = await tempDir();
  await mkdir(join(dir, "audit"));
  await mkdir(join(dir, "anchor"));
  const key = await generateSigningKey(join(dir, "signing.key"));
  return { dir, auditFile: join(dir, "audit", "audit.jsonl"), checkpointFile: join(dir, "anchor", "checkpoints.jsonl"), key };
}

/** A log of `records` records with a checkpointer on it (file sink), both closed at the end. */
export async function checkpointedLog(records: number, config: Partial<CheckpointConfig> = {}, alerter: Alerter | null = null, maxBytes?: number) {
  const ws = await checkpointWorkspace();
  const { logger, lines } = captureLogger();
  const log = await openAuditLog(ws.auditFile, { logger, ...(maxBytes ? { maxBytes } : {}) });
  const checkpointer: Checkpointer = await startCheckpointer({
    log,
    logger,
    alerter,
    config: { every: 2, intervalSec: 3600, key: ws.key.privateKeyFile, serverId: "test-server", sink: { file: ws.checkpointFile }, ...config },
  });
  for (let i = 1; i <= records; i++) await log.append(sampleEntry(i));
  await log.close();
  await checkpointer.close();
  return { ...ws, logLines: lines };
}
