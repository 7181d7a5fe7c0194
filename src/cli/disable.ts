import { readFile } from "node:fs/promises";
import { parseConfigText } from "../config/load.js";
import { writeConfigAtomically } from "../config/write.js";
import { reportCliError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

const TARGET = /^([a-z][a-z0-9_]{0,63}|\*)$/;

/** `warden disable|enable <tool|class>`: edits `disabled` in the config; a running server applies it within a second. */
function toggle(disable: boolean): CliCommand {
  return async ({ positionals, configPath }, io) => {
    const [target] = positionals;
    if (!target || !TARGET.test(target)) {
      io.stderr(`usage: warden ${disable ? "disable" : "enable"} <tool|read|write|destructive|*>\n`);
      return EXIT_USAGE;
    }
    try {
      const text = await readFile(configPath, "utf8");
      parseConfigText(configPath, text); // refuse to edit a config that is already invalid
      const raw = JSON.parse(text) as { disabled?: string[]; quarantined?: Record<string, string[]> };
      const list = new Set(raw.disabled ?? []);
      if (disable) list.add(target);
      else list.delete(target);
      raw.disabled = [...list];
      // `enable` also lifts the per-actor quarantines of that tool (SPEC §14), or of every tool for "*".
      if (!disable && raw.quarantined) {
        const lifted = Object.entries(raw.quarantined).filter(([tool]) => target !== "*" && tool !== target);
        raw.quarantined = Object.fromEntries(lifted);
      }
      await writeConfigAtomically(configPath, raw);
      io.stdout(`${disable ? "disabled" : "enabled"} ${target}; disabled now: ${raw.disabled.join(", ") || "nothing"}\n`);
      return EXIT_OK;
    } catch (err) {
      return reportCliError(err, io);
    }
  };
}

export const disableCommand = toggle(true);
export const enableCommand = toggle(false);
