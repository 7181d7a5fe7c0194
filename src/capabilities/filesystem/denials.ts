/**
 * Every message ctx.fs sends back to a tool. They are built here, from the
 * tool-visible path only: a Node error message carries the operator's host
 * path, so no message is ever derived from one (SPEC §9: messages never contain
 * host paths).
 */
import { WardenError } from "../../errors.js";

const MAX_SHOWN = 256;

/**
 * The tool's path as it may appear in a message (default bound) or an audit
 * record (pass a larger bound): control bytes escaped so a path cannot forge
 * log lines, length bounded so a refused 1 MB path does not flood the log.
 */
export function shownPath(path: unknown, maxChars = MAX_SHOWN): string {
  if (typeof path !== "string") return `<${typeof path}>`;
  // eslint-disable-next-line no-control-regex
  const escaped = path.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return escaped.length > maxChars ? `${escaped.slice(0, maxChars)}…(${path.length} chars)` : escaped;
}

/** `filesystem: <path> is refused: <why>` — the path itself is not acceptable. */
export function pathRefused(path: unknown, why: string): WardenError {
  return new WardenError("E_CAPABILITY_DENIED", `filesystem: ${shownPath(path)} is refused: ${why}`);
}

export function volumeNotGranted(path: string, rawVolume: string, tool: string): WardenError {
  const volume = shownPath(rawVolume, 64);
  return pathRefused(
    path,
    `volume "${volume}" is not granted to ${tool}; declare {"volume": "${volume}", "access": "read"} (or "read-write") in its manifest and have the operator grant it`,
  );
}

export function writeRefusedReadOnly(op: string, path: string, volume: string, tool: string): WardenError {
  return new WardenError(
    "E_CAPABILITY_DENIED",
    `filesystem: ${verb(op)} ${shownPath(path)} refused: ${volume} is granted read-only to ${tool}; grant {"volume": "${volume}", "access": "read-write"} to allow it`,
  );
}

export function quotaExceeded(path: string, volume: string, wouldUse: number, maxBytes: number): WardenError {
  return new WardenError(
    "E_CAPABILITY_DENIED",
    `filesystem: write to ${shownPath(path)} refused: volume ${volume} would hold ${wouldUse} bytes, over its quota of ${maxBytes} bytes; remove files or have the operator raise maxBytes for ${volume}`,
  );
}

export function symlinkEscapes(path: string, volume: string): WardenError {
  return pathRefused(path, `a symbolic link on this path leads outside the volume ${volume}; links may only point inside their volume`);
}

export function hardlinkRefused(path: string, links: number): WardenError {
  return pathRefused(
    path,
    `it is a hard link (${links} names) and may share its content with a file outside the volume; the operator can replace it with a copy`,
  );
}

export function specialFileRefused(path: string, kind: string): WardenError {
  return pathRefused(path, `it is a ${kind}; only regular files and directories are accessible`);
}

export function rootRemovalRefused(path: string): WardenError {
  return new WardenError("E_CAPABILITY_DENIED", `filesystem: rm of ${shownPath(path)} refused: the volume root cannot be removed`);
}

export function readTooLarge(path: string, size: number, limit: number): WardenError {
  return pathRefused(path, `the file is ${size} bytes, over the read limit of ${limit} bytes`);
}

/** Ordinary failures a tool can expect (missing file, not a directory …): E_TOOL_FAILED, not a denial. */
export function toolFailure(path: string, what: string): WardenError {
  return new WardenError("E_TOOL_FAILED", `filesystem: ${shownPath(path)}: ${what}`);
}

function verb(op: string): string {
  return op === "writeFile" ? "write to" : `${op} of`;
}
