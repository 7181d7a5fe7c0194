import { readFile } from "node:fs/promises";
import { parseConfigText } from "../config/load.js";
import { writeConfigAtomically } from "../config/write.js";
import { waitForServers } from "../runtime/live-status.js";
import { reportCliError } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from "./types.js";

/** How long a running server gets to apply the edit before the command says it did not. */
const APPLY_TIMEOUT_MS = Number(process.env.WARDEN_APPLY_TIMEOUT_MS ?? 5000);

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
      io.stdout(`${disable ? "disabled" : "enabled"} ${target} in ${configPath}; disabled now: ${raw.disabled.join(", ") || "nothing"}\n`);
      return await reportServers(configPath, target, disable, io);
    } catch (err) {
      return reportCliError(err, io);
    }
  };
}

/**
 * #19.2: the file saying "disabled" is not the kill switch; the running server
 * is. Each server publishes what it applied; the command waits for it and
 * says plainly when a server did not apply the edit (exit 1).
 */
async function reportServers(configPath: string, target: string, disable: boolean, io: CliIo): Promise<number> {
  const { servers, behind } = await waitForServers(configPath, (s) => s.disabled.includes(target) === disable, APPLY_TIMEOUT_MS);
  if (servers.length === 0) {
    io.stdout("no running warden server reported on this config; it applies when one starts (a server whose config folder is read-only cannot report: check its log for \"reload refused\")\n");
    return EXIT_OK;
  }
  for (const s of servers) {
    if (behind.includes(s)) io.stderr(`warden: the running server (pid ${s.pid}) has NOT applied it${s.problem ? `: ${s.problem}` : ""}; ${target} ${disable ? "still answers there" : "is still disabled there"}\n`);
    else io.stdout(`the running server (pid ${s.pid}) applied it\n`);
  }
  return behind.length > 0 ? EXIT_FAILED : EXIT_OK;
}

export const disableCommand = toggle(true);
export const enableCommand = toggle(false);
