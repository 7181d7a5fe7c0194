import { WardenError } from "../errors.js";

/** callIds name folders: anything with a "/" or a leading "." could name a path outside the journal. */
const CALL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isCallId(value: string): boolean {
  return CALL_ID.test(value);
}

export function assertCallId(value: string): void {
  if (!isCallId(value)) throw new WardenError("E_USAGE", `"${value.slice(0, 140)}" is not a call id (letters, digits, ".", "_", "-"; as printed in the audit log's callId)`);
}
