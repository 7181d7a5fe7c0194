import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import { WardenError } from "../errors.js";
import { formatProblemLines, type ManifestProblem } from "./problems.js";

/**
 * The tool digest (SPEC §2, §7): approvals bind to it, so it must change when
 * anything the tool could run or read changes, and only then.
 *
 * - Every file of the folder counts, nothing is skipped (not even node_modules
 *   or dotfiles): a tool ships exactly what is in its folder, and a skipped
 *   file is a place to hide code the operator never approved.
 * - Symlinks are refused, not followed: a link could point out of the folder
 *   (at host secrets) or be re-pointed after approval without changing the
 *   digest. Sockets, FIFOs and devices are refused too.
 * - Empty directories contribute nothing (they hold no code).
 * - Encoding: "mcp-warden tool digest v1" NUL, then per file in byte order of
 *   the relative POSIX path: path NUL byteLength NUL content. Lengths make the
 *   stream unambiguous (no file can pose as two).
 * - Container tools: the manifest (and so the image reference and command) is
 *   hashed with the folder, and the engine's image ID is appended as
 *   "image-id" NUL id (load.ts reads it at every load and approval; the
 *   container backend checks it again at every start, sandboxes/container/
 *   image-id.ts). A rebuilt or retagged image changes the digest, so its
 *   approval no longer applies.
 * - Not hashed: file modes, owners and mtimes. An isolate tool's code is its
 *   bytes (nothing is executed as a file), so a mode change changes nothing
 *   that runs. If a container tool's build context is ever hashed, modes must
 *   join it (an exec bit changes what runs); see docs/threat-model.md.
 */
export const MAX_TOOL_FILES = 1000;
export const MAX_TOOL_BYTES = 16 * 1024 * 1024;

export interface ToolFile {
  /** Relative POSIX path inside the tool folder. */
  path: string;
  content: Buffer;
}

export interface FolderSnapshot {
  /** Sorted by path (byte order). Empty when the folder was refused as a whole. */
  files: ToolFile[];
  problems: ManifestProblem[];
}

export interface DigestOptions {
  /** Container image ID to bind into the digest (read from the engine by load.ts). */
  imageId?: string;
}

/** Reads every file of the folder once; the digest and the loaded code come from the same bytes. */
export async function snapshotToolFolder(dir: string): Promise<FolderSnapshot> {
  const root = await realpath(dir);
  const files: ToolFile[] = [];
  const problems: ManifestProblem[] = [];
  const budget = { files: 0, dirs: 0, bytes: 0 };
  const pending = [""];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    let entries;
    try {
      entries = await readdir(join(root, rel), { withFileTypes: true });
    } catch (err) {
      problems.push(fileProblem(rel || ".", `folder cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: make it readable by the warden user`));
      continue;
    }
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // Directories count too: a tree of empty folders is still work to walk at every load.
        if (++budget.dirs > MAX_TOOL_FILES) return refused(`the tool folder has more than ${MAX_TOOL_FILES} directories; fix: ship only what the tool needs`);
        pending.push(relPath);
        continue;
      }
      if (entry.isSymbolicLink()) {
        problems.push(fileProblem(relPath, "is a symbolic link; fix: replace it with a copy of the file (links could point out of the tool folder)"));
        continue;
      }
      if (!entry.isFile()) {
        problems.push(fileProblem(relPath, "is not a regular file (socket, FIFO or device); fix: remove it"));
        continue;
      }
      if (++budget.files > MAX_TOOL_FILES)
        return refused(`the tool folder has more than ${MAX_TOOL_FILES} files; fix: ship only what the tool needs (bundle dependencies into one module)`);
      const content = await readRegularFile(join(root, relPath), MAX_TOOL_BYTES - budget.bytes);
      if (typeof content === "string") {
        if (content === "too-big") return refused(`the tool folder is larger than ${MAX_TOOL_BYTES / (1024 * 1024)} MiB; fix: ship only what the tool needs`);
        problems.push(fileProblem(relPath, content));
        continue;
      }
      budget.bytes += content.length;
      files.push({ path: relPath, content });
    }
  }
  files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return { files, problems };
}

/** Opens without following links and reads at most `remaining` bytes; a string is a refusal. */
async function readRegularFile(abs: string, remaining: number): Promise<Buffer | string> {
  let handle;
  try {
    // O_NOFOLLOW: a file swapped for a symlink between readdir and open is refused, not followed.
    handle = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}); fix: make it a readable regular file`;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return "is not a regular file; fix: remove it";
    if (stat.size > remaining) return "too-big";
    const content = await handle.readFile();
    return content.length > remaining ? "too-big" : content;
  } finally {
    await handle.close();
  }
}

function fileProblem(file: string, message: string): ManifestProblem {
  return { file, path: "", message };
}

function refused(message: string): FolderSnapshot {
  return { files: [], problems: [{ file: ".", path: "", message }] };
}

export function digestOfFiles(files: readonly ToolFile[], options: DigestOptions = {}): string {
  const hash = createHash("sha256");
  hash.update("mcp-warden tool digest v1\0");
  for (const f of files) {
    hash.update(f.path);
    hash.update(`\0${f.content.length}\0`);
    hash.update(f.content);
  }
  if (options.imageId !== undefined) hash.update(`image-id\0${options.imageId}`);
  return `sha256:${hash.digest("hex")}`;
}

/** sha256 over every file of the tool folder (see above). Throws E_MANIFEST when the folder is refused. */
export async function computeToolDigest(dir: string, options: DigestOptions = {}): Promise<{ digest: string; files: string[] }> {
  const snapshot = await snapshotToolFolder(dir);
  if (snapshot.problems.length > 0)
    throw new WardenError("E_MANIFEST", `tool folder ${dir} is refused: ${formatProblemLines(snapshot.problems).join("; ")}`);
  return { digest: digestOfFiles(snapshot.files, options), files: snapshot.files.map((f) => f.path) };
}
