/**
 * resolveInVolume: walk a tool path component by component from the volume
 * root, the way openat(2) with RESOLVE_BENEATH would, using only fds we hold.
 *
 * - Each directory is opened with O_DIRECTORY | O_NOFOLLOW *relative to the
 *   fd of its parent* (see volume-root.ts), so the kernel never follows a
 *   symlink for us and a component swapped for a symlink after we looked at
 *   it makes the open fail instead of escaping.
 * - Symlinks inside the volume are followed (policy, see README.md): we read
 *   the link ourselves and splice its target into the walk. `..` in a target
 *   pops our own stack; popping above the root, or an absolute target outside
 *   the root, is refused. So no link can lead out, however it is swapped.
 */
import { lstat, mkdir, open, readlink, type FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";
import { resolve as resolveLexically } from "node:path";
import { symlinkEscapes, toolFailure } from "./denials.js";
import { errnoOf } from "./errno.js";
import type { ToolPath } from "./tool-path.js";
import { at, hostPathOf, O_DIR_NOFOLLOW, openRoot, type VolumeRoot } from "./volume-root.js";
import { throwIfCancelled } from "./cancel.js";

/** Same bound as the kernel's: a link chain longer than this is a loop. */
const MAX_LINK_HOPS = 40;

export interface Resolved {
  /** Open directory: the parent of `name`, or the target itself when `name` is null. The caller closes it. */
  dir: FileHandle;
  name: string | null;
  /** Names from the volume root to `dir` (symlink-free). */
  stack: string[];
  /** "follow" mode: lstat of the target, null when it does not exist. */
  stat?: Stats | null;
}

export interface ResolveOptions {
  /**
   * parent: stop before the last component, never follow it (rm, mkdir).
   * follow: follow links in the last component too, report its lstat (read, write, stat).
   * directory: the last component must be a directory, opened (readdir, mkdir -p).
   */
  final: "parent" | "follow" | "directory";
  /** mkdir -p: create missing directories; called with the host path before each creation. */
  beforeCreateDir?: (hostPath: string, stack: readonly string[], name: string) => Promise<void>;
  signal?: AbortSignal | undefined;
}

export async function resolveInVolume(root: VolumeRoot, target: ToolPath, options: ResolveOptions): Promise<Resolved> {
  const walk = new Walk(root, target, options);
  walk.dir = await openRoot(root);
  try {
    return await walk.run();
  } catch (err) {
    await walk.dir.close();
    throw err;
  }
}

class Walk {
  dir!: FileHandle;
  readonly stack: string[] = [];
  readonly queue: string[];
  hops = 0;
  creations = 0;

  constructor(
    readonly root: VolumeRoot,
    readonly target: ToolPath,
    readonly options: ResolveOptions,
  ) {
    this.queue = [...target.segments];
  }

  async run(): Promise<Resolved> {
    while (this.queue.length > 0) {
      throwIfCancelled(this.options.signal);
      const name = this.queue.shift() as string;
      if (name === "" || name === ".") continue;
      if (name === "..") {
        await this.up();
        continue;
      }
      const last = this.queue.length === 0;
      if (last && this.options.final === "parent") return { dir: this.dir, name, stack: this.stack };
      if (last && this.options.final === "follow") {
        const stat = await lstatOrNull(at(this.dir, name));
        if (stat?.isSymbolicLink()) {
          await this.followLink(name);
          continue;
        }
        return { dir: this.dir, name, stack: this.stack, stat };
      }
      await this.enter(name);
    }
    const stat = this.options.final === "follow" ? await this.dir.stat() : undefined;
    return { dir: this.dir, name: null, stack: this.stack, ...(stat ? { stat } : {}) };
  }

  /** Step into directory `name`; a symlink there is followed, a missing one created for mkdir -p. */
  private async enter(name: string): Promise<void> {
    let child: FileHandle;
    try {
      child = await open(at(this.dir, name), O_DIR_NOFOLLOW);
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT" && this.options.beforeCreateDir) return this.create(name);
      if (code !== "ENOTDIR" && code !== "ELOOP") throw err;
      // O_NOFOLLOW | O_DIRECTORY on a symlink fails with ENOTDIR, like a file: tell them apart.
      const stat = await lstat(at(this.dir, name));
      if (!stat.isSymbolicLink()) throw toolFailure(this.target.path, "not a directory");
      return this.followLink(name);
    }
    await this.dir.close();
    this.dir = child;
    this.stack.push(name);
  }

  private async create(name: string): Promise<void> {
    // Bounded: someone deleting our fresh directories in a loop must not keep us spinning.
    if (++this.creations > this.target.segments.length + 8) throw toolFailure(this.target.path, "the path kept changing while it was created; retry");
    await this.options.beforeCreateDir?.(hostPathOf(this.root, this.stack, name), this.stack, name);
    try {
      await mkdir(at(this.dir, name), { mode: 0o755 });
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw err;
    }
    this.queue.unshift(name); // open it like any other component (O_NOFOLLOW), never trust the name
  }

  private async followLink(name: string): Promise<void> {
    if (++this.hops > MAX_LINK_HOPS) throw toolFailure(this.target.path, "too many levels of symbolic links");
    let link: string;
    try {
      link = await readlink(at(this.dir, name));
    } catch (err) {
      // EINVAL: no longer a link (swapped back); walk the name again, the hop bound still applies.
      if (errnoOf(err) !== "EINVAL") throw err;
      this.queue.unshift(name);
      return;
    }
    if (link.startsWith("/")) {
      const rest = this.insideRoot(link);
      if (rest === null) throw symlinkEscapes(this.target.path, this.root.grant.volume);
      await this.restartAtRoot();
      this.queue.unshift(...rest);
    } else {
      this.queue.unshift(...link.split("/"));
    }
  }

  /** Absolute link targets are host paths: accepted only below the volume root (`<root>/`, not `<root>-evil`). */
  private insideRoot(link: string): string[] | null {
    for (const base of new Set([this.root.real, resolveLexically(this.root.grant.hostPath)])) {
      if (link === base) return [];
      if (link.startsWith(`${base}/`)) return link.slice(base.length + 1).split("/");
    }
    return null;
  }

  /** `..` from a link target: our own parent, by re-walking the stack; never above the root. */
  private async up(): Promise<void> {
    if (this.stack.length === 0) throw symlinkEscapes(this.target.path, this.root.grant.volume);
    const path = this.stack.slice(0, -1);
    await this.restartAtRoot();
    for (const name of path) {
      let child: FileHandle;
      try {
        child = await open(at(this.dir, name), O_DIR_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) === "ENOTDIR") throw toolFailure(this.target.path, "the path changed during the operation; retry");
        throw err;
      }
      await this.dir.close();
      this.dir = child;
      this.stack.push(name);
    }
  }

  private async restartAtRoot(): Promise<void> {
    const rootDir = await openRoot(this.root);
    await this.dir.close();
    this.dir = rootDir;
    this.stack.length = 0;
  }
}

/** lstat that answers null for "does not exist" (never follows the last component). */
export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return null;
    throw err;
  }
}
