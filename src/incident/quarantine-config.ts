import { readFile } from "node:fs/promises";
import { writeConfigAtomically } from "../config/write.js";

interface QuarantineFields {
  disabled?: string[];
  quarantined?: Record<string, string[]>;
}

/** Persists a quarantine so only `warden enable` lifts it; false when the file cannot be written (e.g. mounted read-only). */
async function editConfig(configFile: string, edit: (raw: QuarantineFields) => void): Promise<boolean> {
  try {
    const raw = JSON.parse(await readFile(configFile, "utf8")) as QuarantineFields;
    edit(raw);
    await writeConfigAtomically(configFile, raw);
    return true;
  } catch {
    return false;
  }
}

/** Tool-wide quarantine: the tool joins `disabled` (the kill switch). */
export function quarantineInConfig(configFile: string, tool: string): Promise<boolean> {
  return editConfig(configFile, (raw) => {
    raw.disabled = [...new Set([...(raw.disabled ?? []), tool])];
  });
}

/** Per-actor quarantine: `quarantined.<tool>` lists the actors the tool is switched off for. */
export function quarantineActorInConfig(configFile: string, tool: string, actor: string): Promise<boolean> {
  return editConfig(configFile, (raw) => {
    const quarantined = { ...(raw.quarantined ?? {}) };
    quarantined[tool] = [...new Set([...(Object.hasOwn(quarantined, tool) ? quarantined[tool]! : []), actor])];
    raw.quarantined = quarantined;
  });
}
