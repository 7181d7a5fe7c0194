import { readFile } from "node:fs/promises";
import { writeConfigAtomically } from "../config/write.js";

/** Adds the tool to `disabled` in the config file; false when the file cannot be written (e.g. mounted read-only). */
export async function quarantineInConfig(configFile: string, tool: string): Promise<boolean> {
  try {
    const raw = JSON.parse(await readFile(configFile, "utf8")) as { disabled?: string[] };
    raw.disabled = [...new Set([...(raw.disabled ?? []), tool])];
    await writeConfigAtomically(configFile, raw);
    return true;
  } catch {
    return false;
  }
}
