/**
 * Host errors become tool-level failures (E_TOOL_FAILED) with a message made
 * from the tool's path only. A missing file is not a denial: tools probe for
 * files all the time, and calling that "capability denied" would both confuse
 * authors and trip auto-quarantine (SPEC §14). Host permission errors are also
 * E_TOOL_FAILED: warden did not refuse, the host filesystem did.
 */
import { WardenError } from "../../errors.js";
import { toolFailure } from "./denials.js";

const WHAT: Record<string, string> = {
  ENOENT: "no such file",
  EEXIST: "already exists",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOTEMPTY: "directory not empty (pass recursive: true to remove it with its content)",
  EACCES: "permission denied by the host filesystem",
  EPERM: "operation not permitted by the host filesystem",
  ENOSPC: "no space left on the host filesystem",
  EDQUOT: "host disk quota exceeded",
  EROFS: "the host filesystem is read-only",
  ENAMETOOLONG: "name too long",
  EMLINK: "too many links",
  EBUSY: "resource busy",
  EFBIG: "file too large",
  // Only from our O_NOFOLLOW opens: a symlink took the place of the entry between the check and the open.
  ELOOP: "the path changed during the operation (a symbolic link appeared); retry",
  // Only from opening a fifo or device for writing with O_NONBLOCK.
  ENXIO: "not a regular file",
};

export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** Any thrown value → WardenError, never carrying a Node message (it holds host paths). */
export function asFsError(err: unknown, path: string, op: string): WardenError {
  if (err instanceof WardenError) return err;
  const code = errnoOf(err);
  if (code && WHAT[code]) return toolFailure(path, WHAT[code]);
  return toolFailure(path, `${op} failed (${code ?? "unexpected error"})`);
}
