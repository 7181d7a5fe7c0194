/**
 * The rollback journal (SPEC §14): pre-images of every ctx.fs mutation, kept
 * per callId, restored by `warden rollback`, pruned by `journal.retainDays`.
 */
export { createJournal, type CallJournal, type Journal, type JournalOptions, type MutationChange } from "./journal.js";
export { DEFAULT_JOURNAL_MAX_BYTES } from "./budget.js";
export { pruneJournal, type PruneResult } from "./prune.js";
export { findConflicts, markRolledBack, readCallRecord, recordForcedRollback, type CallRecord, type Conflict, type RolledBack } from "./call-record.js";
export { restoreCall, type RestoreResult } from "./restore.js";
export { changesSinceCall, type OutsideChange } from "./post-image.js";
export { journalRoot, RootChanged, volumePathOf, type JournalRoot } from "./volume-walk.js";
export { assertCallId, isCallId } from "./call-id.js";
export { toolPathOf, type JournalEntry, type PreImageKind } from "./records.js";

import { join } from "node:path";

/** `journal.dir` from the config (already resolved against the config folder), default `<configDir>/warden-journal`. */
export function journalDirOf(loaded: { dir: string; config: { journal?: { dir?: string } | undefined } }): string {
  return loaded.config.journal?.dir ?? join(loaded.dir, "warden-journal");
}
