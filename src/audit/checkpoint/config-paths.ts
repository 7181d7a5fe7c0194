import { realpathSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { WardenError } from "../../errors.js";

interface AuditSection {
  file: string;
  checkpoint?: { key: string; sink: { file?: string | undefined } } | undefined;
}

/**
 * Resolves `audit.checkpoint.key` and `sink.file` against the config folder
 * and refuses, at load, places that defeat the checkpoint:
 * - a sink file in the audit folder: whoever can cut the log's tail there can
 *   cut the checkpoints too — they must live where the log's writer cannot
 *   rewrite them (another host, at least another folder/mount);
 * - a sink file or the key in a tool volume: a tool granted that volume could
 *   rewrite the checkpoints, or read the key and sign forged ones.
 */
export function resolveCheckpointPaths(abs: string, dir: string, audit: AuditSection, volumes: Record<string, { path: string }>): void {
  const checkpoint = audit.checkpoint;
  if (!checkpoint) return;
  checkpoint.key = resolve(dir, checkpoint.key);
  for (const [name, volume] of Object.entries(volumes)) {
    if (isInside(checkpoint.key, volume.path)) {
      throw new WardenError("E_CONFIG", `${abs}: audit.checkpoint.key: ${checkpoint.key} is inside volume "${name}" (${volume.path}), where a tool could read it and sign forged checkpoints; fix: keep the key outside every volume (e.g. a secret mount)`);
    }
  }
  if (checkpoint.sink.file === undefined) return;
  const file = resolve(dir, checkpoint.sink.file);
  checkpoint.sink.file = file;
  if (isInside(file, dirname(audit.file))) {
    throw new WardenError("E_CONFIG", `${abs}: audit.checkpoint.sink.file: ${file} is inside the audit folder ${dirname(audit.file)}; whoever can cut the log there can cut its checkpoints too; fix: put it on another mount or host, or use sink.webhook / sink.command`);
  }
  for (const [name, volume] of Object.entries(volumes)) {
    if (isInside(file, volume.path)) {
      throw new WardenError("E_CONFIG", `${abs}: audit.checkpoint.sink.file: ${file} is inside volume "${name}" (${volume.path}), where a tool could rewrite it; fix: put it outside every volume`);
    }
  }
}

/** `path` is `folder` or below it, comparing real paths where they exist (a symlink cannot smuggle it in). */
function isInside(path: string, folder: string): boolean {
  const a = realPathOfExisting(path);
  const b = realPathOfExisting(folder);
  const rel = relative(b, a);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** realpath of the longest existing prefix, with the rest appended. */
function realPathOfExisting(path: string): string {
  let head = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      return resolve(realpathSync(head), ...rest);
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(path);
      rest.unshift(head.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      head = parent;
    }
  }
}
