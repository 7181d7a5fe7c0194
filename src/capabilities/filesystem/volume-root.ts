/**
 * Race-free resolution needs openat(2), which Node lacks. Linux offers the
 * same through procfs: `/proc/self/fd/<dirfd>/<name>` looks `name` up inside
 * the directory that `dirfd` already holds open, whatever has since been
 * renamed or swapped along the path that led to it. Every lookup below goes
 * through an fd we opened ourselves, so a symlink swapped into the path after
 * a check can never redirect an open.
 */
import { existsSync } from "node:fs";
import { constants } from "node:fs";
import { open, readlink, realpath, type FileHandle } from "node:fs/promises";
import { WardenError } from "../../errors.js";
import type { VolumeGrant } from "../types.js";

export const O_DIR_NOFOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** `name` inside the directory held open by `dir`, resolved by the kernel relative to that fd. */
export function at(dir: FileHandle, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

export interface VolumeRoot {
  grant: VolumeGrant;
  /** realpath of the operator's host directory. Never shown to the tool. */
  real: string;
}

let procChecked = false;

/** The volume's real root. Not cached past a call: the operator may move a volume between calls. */
export async function volumeRoot(grant: VolumeGrant): Promise<VolumeRoot> {
  if (!procChecked) {
    // Without procfs there is no race-free resolution; refuse instead of falling back to a racy one.
    if (process.platform !== "linux" || !existsSync("/proc/self/fd")) {
      throw new WardenError("E_SANDBOX_UNAVAILABLE", "filesystem: ctx.fs needs Linux with /proc mounted for race-free path resolution");
    }
    procChecked = true;
  }
  try {
    return { grant, real: await realpath(grant.hostPath) };
  } catch {
    throw new WardenError(
      "E_TOOL_FAILED",
      `filesystem: volume ${grant.volume} is not available on this host (its directory is missing); ask the operator to check the volume mapping`,
    );
  }
}

/** realpath costs a thread-pool round trip per operation; a volume's root is re-resolved at most once a second. */
export class VolumeRoots {
  private readonly cache = new Map<string, { root: VolumeRoot; at: number }>();

  async of(grant: VolumeGrant): Promise<VolumeRoot> {
    const hit = this.cache.get(grant.volume);
    if (hit && hit.root.grant === grant && Date.now() - hit.at < 1000) return hit.root;
    const root = await volumeRoot(grant);
    this.cache.set(grant.volume, { root, at: Date.now() });
    return root;
  }
}

export function openRoot(root: VolumeRoot): Promise<FileHandle> {
  return open(root.real, constants.O_RDONLY | constants.O_DIRECTORY);
}

/**
 * Defence in depth after the walk: the object actually opened must live under
 * the volume root. Compares against `<root>/` so a sibling `<root>-evil` fails.
 */
export async function isInside(root: VolumeRoot, handle: FileHandle): Promise<boolean> {
  const where = await readlink(`/proc/self/fd/${handle.fd}`);
  return where === root.real || where.startsWith(root.real.endsWith("/") ? root.real : `${root.real}/`);
}

/** Host path of a resolved location, for the rollback journal hook only (never for tools). */
export function hostPathOf(root: VolumeRoot, stack: readonly string[], name: string | null): string {
  const parts = name === null ? stack : [...stack, name];
  return parts.length === 0 ? root.real : `${root.real === "/" ? "" : root.real}/${parts.join("/")}`;
}
