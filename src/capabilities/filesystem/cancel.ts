import { WardenError } from "../../errors.js";

/** Between steps of an operation: a cancelled call stops touching the disk (SPEC §3, ctx.signal). */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  if (signal.reason instanceof WardenError) throw signal.reason;
  throw new WardenError("E_CANCELLED", "filesystem: the call was cancelled");
}
