import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { z } from "zod";
import { resolveCheckpointPaths } from "../audit/index.js";
import { WardenError } from "../errors.js";
import { journalDirOf } from "../journal/index.js";
import { checkPathLayout } from "./path-layout.js";
import { ConfigSchema, type Config } from "./schema.js";

/** A loaded config: parsed, defaults filled, relative paths resolved against the config file's folder. */
export interface LoadedConfig {
  file: string;
  dir: string;
  config: Config;
}

/** Reads and validates warden.config.json. Errors name the file, the JSON path and the fix (SPEC §6). */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WardenError(
      "E_CONFIG",
      `${abs}: cannot read the config file (${code ?? "error"}); fix: create it or pass --config <file>`,
    );
  }
  const loaded = parseConfigText(abs, text);
  // Overlapping volumes, journal.dir or the config folder inside a volume (path-layout.ts).
  await checkPathLayout(loaded, journalDirOf(loaded));
  return loaded;
}

export function parseConfigText(abs: string, text: string): LoadedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new WardenError("E_CONFIG", `${abs}: not valid JSON (${(err as Error).message}); fix: correct the JSON syntax`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new WardenError("E_CONFIG", `${abs}: invalid config:\n${describeZodIssues(parsed.error)}`);
  }
  const dir = dirname(abs);
  const config = parsed.data;
  config.tools = config.tools.map((g) => resolve(dir, g));
  for (const v of Object.values(config.volumes)) v.path = resolve(dir, v.path);
  config.audit.file = resolve(dir, config.audit.file);
  resolveCheckpointPaths(abs, dir, config.audit, config.volumes);
  if (config.journal?.dir) config.journal.dir = resolve(dir, config.journal.dir);
  return { file: abs, dir, config };
}

/** "  - grants.fetch_weather.network[0]: <problem>; fix: <how>" lines. */
export function describeZodIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = formatJsonPath(issue.path);
      let fix = "correct the value";
      if (issue.code === "unrecognized_keys") fix = `remove ${issue.keys.map((k) => `"${k}"`).join(", ")} (unknown keys are errors, never ignored)`;
      else if (issue.code === "invalid_type") fix = `use a value of type ${issue.expected}`;
      else if (issue.code === "invalid_value" && "values" in issue) fix = `use one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
      return `  - ${path || "(root)"}: ${issue.message}; fix: ${fix}`;
    })
    .join("\n");
}

export function formatJsonPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}
