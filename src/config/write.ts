import { rename, stat, writeFile } from "node:fs/promises";

/** Replaces the config in one rename so a watching server never reads half a file. */
export async function writeConfigAtomically(file: string, raw: unknown): Promise<void> {
  const mode = (await stat(file).catch(() => null))?.mode ?? 0o644;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(raw, null, 2) + "\n", { mode: mode & 0o777 });
  await rename(tmp, file);
}
