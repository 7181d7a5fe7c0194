/**
 * What a restored node may be (issue 19, break 6): a container tool can
 * create a setuid copy of a shell in its volume; a later call overwrites it;
 * `warden rollback` run as root then recreated it as a root-owned setuid
 * binary — a root shell for anyone who can run it. So:
 *
 * - setuid, setgid and sticky bits are never restored (permission bits only);
 * - when the rollback runs as root, a restored node gets the owner it had
 *   when recorded, unless that was root; then the owner of the folder it is
 *   restored into, unless that is root too; then nobody (65534). A rollback
 *   never creates a root-owned file, whatever the journal says.
 */
import type { Stats } from "node:fs";

export const NOBODY = 65534;

export interface Owner {
  uid: number;
  gid: number;
}

export function restoredMode(mode: number): number {
  return mode & 0o777;
}

/** null when not running as root: a non-root rollback creates its own files and cannot give them away. */
export function ownerFor(recorded: { uid?: number | undefined; gid?: number | undefined }, parent: Pick<Stats, "uid" | "gid">): Owner | null {
  if (process.geteuid?.() !== 0) return null;
  const pick = (id: number | undefined, folder: number): number => (id !== undefined && id !== 0 ? id : folder !== 0 ? folder : NOBODY);
  return { uid: pick(recorded.uid, parent.uid), gid: pick(recorded.gid, parent.gid) };
}
