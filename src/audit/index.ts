export type { AuditEntry, AuditRecord, AuditLog, AuditLogOptions, VerifyReport } from "./types.js";
export { openAuditLog } from "./open-audit-log.js";
export { verifyAuditChain } from "./verify.js";
export { formatVerifyReport } from "./format-report.js";
export { canonicalJson } from "./canonical-json.js";
export { GENESIS_HASH } from "./chain.js";
export { acquireProcessLock, liveLockHolder, lockPathOf, type ProcessLock } from "./process-lock.js";
export { appendOrSpool, ingestSpool, spoolAuditEntry, spoolDirOf, type AuditDelivery } from "./spool.js";
export type { ChainHead, PruneNote } from "./types.js";
export {
  checkpointHealth,
  formatCheckpointReport,
  generateSigningKey,
  parsePublicKey,
  resolveCheckpointPaths,
  startCheckpointer,
  verifyWithCheckpoints,
  type Checkpoint,
  type Checkpointer,
} from "./checkpoint/index.js";
