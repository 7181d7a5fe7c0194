/**
 * Volume quota (config `maxBytes`): the sum of the sizes of the regular files
 * in the volume. Walking a volume on every write would make writes O(volume),
 * so usage is a running tally per volume directory, shared by every call:
 *
 * - first use, or the tally is older than `rescanMs`: walk the volume once
 *   (concurrent callers share the walk) and take its total;
 * - our own writes reserve their growth *before* writing (two concurrent
 *   writes cannot both squeeze under the quota) and settle the exact delta
 *   afterwards; our removals release what they freed;
 * - changes made by anyone else (container tools, the operator) are picked up
 *   by the next walk, at most one walk per `rescanMs` per volume.
 *
 * Directories and metadata are not counted; a write that does not grow the
 * volume is always allowed, so a tool over quota can still shrink it.
 */
import { lstat, open, readdir, type FileHandle } from "node:fs/promises";
import { quotaExceeded } from "./denials.js";
import { at, O_DIR_NOFOLLOW, openRoot, type VolumeRoot } from "./volume-root.js";

export const DEFAULT_QUOTA_RESCAN_MS = 10_000;
const STAT_BATCH = 64;

interface Tally {
  bytes: number;
  scannedAt: number;
  walk: Promise<void> | null;
}

const tallies = new Map<string, Tally>();

export interface Reservation {
  /** The write happened and changed the volume by `delta` bytes. */
  settle(delta: number): void;
  /** The write did not happen. */
  cancel(): void;
}

const NO_QUOTA: Reservation = { settle() {}, cancel() {} };

export async function reserveBytes(root: VolumeRoot, path: string, delta: number, rescanMs: number): Promise<Reservation> {
  const maxBytes = root.grant.maxBytes;
  if (maxBytes === undefined) {
    // No quota for this grant, but another tool may hold one on the same directory: keep its tally true.
    const shared = tallies.get(root.real);
    return shared ? reserve(shared, delta) : NO_QUOTA;
  }
  const tally = await freshTally(root, rescanMs);
  if (delta > 0 && tally.bytes + delta > maxBytes) throw quotaExceeded(path, root.grant.volume, tally.bytes + delta, maxBytes);
  return reserve(tally, delta);
}

function reserve(tally: Tally, delta: number): Reservation {
  tally.bytes += delta;
  return {
    settle: (actual) => {
      tally.bytes += actual - delta;
    },
    cancel: () => {
      tally.bytes -= delta;
    },
  };
}

export function releaseBytes(root: VolumeRoot, freed: number): void {
  const tally = tallies.get(root.real);
  if (tally) tally.bytes = Math.max(0, tally.bytes - freed);
}

async function freshTally(root: VolumeRoot, rescanMs: number): Promise<Tally> {
  let tally = tallies.get(root.real);
  if (tally && tally.walk === null && Date.now() - tally.scannedAt <= rescanMs) return tally;
  if (!tally) {
    tally = { bytes: 0, scannedAt: 0, walk: null };
    tallies.set(root.real, tally);
  }
  const current = tally;
  current.walk ??= measureVolume(root)
    .then((bytes) => {
      current.bytes = bytes;
      current.scannedAt = Date.now();
    })
    .finally(() => {
      current.walk = null;
    });
  await current.walk;
  return current;
}

async function measureVolume(root: VolumeRoot): Promise<number> {
  const dir = await openRoot(root);
  try {
    return await bytesBelow(dir);
  } finally {
    await dir.close();
  }
}

/** Walks through fds with O_NOFOLLOW like every other walk: a swapped symlink cannot make us count (or stat) outside. */
async function bytesBelow(dir: FileHandle): Promise<number> {
  let total = 0;
  const entries = await readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true });
  // Files of one directory are measured in batches (one thread-pool round trip per batch, not per file);
  // subdirectories one at a time, so a deep tree holds one fd per level only.
  const files = entries.filter((e) => e.isFile());
  for (let i = 0; i < files.length; i += STAT_BATCH) {
    const stats = await Promise.all(files.slice(i, i + STAT_BATCH).map((e) => lstat(at(dir, e.name)).catch(vanished)));
    for (const stat of stats) if (stat?.isFile()) total += stat.size;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const child = await open(at(dir, entry.name), O_DIR_NOFOLLOW).catch(vanished);
    if (!child) continue;
    try {
      total += await bytesBelow(child);
    } finally {
      await child.close();
    }
  }
  return total;
}

/** An entry removed or swapped during the walk is simply not counted: the tally is an estimate refreshed by the next walk. */
function vanished(): null {
  return null;
}
