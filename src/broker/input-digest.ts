import { createHash } from "node:crypto";

/** Characters of a refused call's (redacted) input kept in its audit record. */
export const INPUT_PREFIX_CHARS = 200;

export interface InputDigest {
  bytes: number | null;
  sha256: string | null;
  prefix: string;
  /** Why the arguments were not even read (not an object, too deep, too many values). */
  refused?: string;
}

/**
 * A call that never ran is audited with a bounded digest of its input, not the
 * input (#18.7): 40 calls to an unknown tool with 1 MB arguments added 41.6 MB
 * to the audit log in 0.8 s, and a full disk refuses every tenant (E_AUDIT).
 * The digest still ties the record to the exact bytes (size + sha256) and
 * shows the operator how it began. `redacted` is the input after key and
 * secret-value redaction; without it (unreadable arguments) only the size and
 * hash of the raw JSON are kept, never its text.
 */
export function digestInput(redacted: unknown, raw: unknown, refused?: string): InputDigest {
  const text = redacted !== undefined ? safeJson(redacted) : safeJson(raw);
  const out: InputDigest = {
    bytes: text === null ? null : Buffer.byteLength(text),
    sha256: text === null ? null : createHash("sha256").update(text).digest("hex"),
    prefix: redacted !== undefined && text !== null ? text.slice(0, INPUT_PREFIX_CHARS) : "",
  };
  if (refused) out.refused = refused;
  return out;
}

function safeJson(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    return null; // too deep for the serializer: the size is unknown, the call is refused anyway
  }
}
