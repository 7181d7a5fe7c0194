/**
 * Syntax of the paths a tool passes to ctx.fs: `/mnt/<volume>` or
 * `/mnt/<volume>/...`. This is the first gate, before anything touches the
 * disk; it refuses whatever could be read two ways by two layers.
 */
import type { VolumeGrant } from "../types.js";
import { pathRefused, volumeNotGranted } from "./denials.js";

export const MAX_PATH_LENGTH = 4096;
export const MAX_COMPONENT_BYTES = 255;

export interface ToolPath {
  /** The path exactly as the tool wrote it (for messages and records). */
  path: string;
  grant: VolumeGrant;
  /** Components below the volume root; empty and "." components dropped. */
  segments: string[];
}

/** The volume a path names (best effort, for the audit record of a refused path). */
export function volumeOf(path: unknown): string {
  if (typeof path !== "string") return "";
  const parts = path.split("/");
  return parts[0] === "" && parts[1] === "mnt" ? (parts[2] ?? "").slice(0, 64) : "";
}

export function parseToolPath(path: unknown, volumes: readonly VolumeGrant[], tool: string): ToolPath {
  if (typeof path !== "string") throw pathRefused(path, "a path must be a string");
  if (path.length === 0) throw pathRefused(path, "the path is empty");
  if (path.length > MAX_PATH_LENGTH) throw pathRefused(path, `the path is longer than ${MAX_PATH_LENGTH} characters`);
  // NUL: the kernel would cut the path short, so the check and the open would see different paths.
  if (path.includes("\0")) throw pathRefused(path, "NUL bytes are not allowed in paths");
  // Backslash: a separator to some layers (Windows hosts, container tooling), a name byte to Linux.
  if (path.includes("\\")) throw pathRefused(path, "backslashes are not allowed in paths");
  const parts = path.split("/");
  if (parts[0] !== "" || parts[1] !== "mnt" || !parts[2]) {
    throw pathRefused(path, "paths must start with /mnt/<volume>, e.g. /mnt/workspace/notes.txt");
  }
  // "..": refused even when it would normalise inside (/mnt/ws/a/../b) — after a symlink, ".." is not
  // the lexical parent, and a volume name followed by ".." would name a sibling host directory.
  if (parts.includes("..")) throw pathRefused(path, '".." is not allowed in paths');
  for (const part of parts) {
    if (Buffer.byteLength(part, "utf8") > MAX_COMPONENT_BYTES) {
      throw pathRefused(path, `a path component is longer than ${MAX_COMPONENT_BYTES} bytes`);
    }
  }
  const volume = parts[2];
  // Exact name match: /mnt/ws-evil never matches a grant of ws.
  const grant = volumes.find((v) => v.volume === volume);
  if (!grant) throw volumeNotGranted(path, volume, tool);
  return { path, grant, segments: parts.slice(3).filter((p) => p !== "" && p !== ".") };
}
