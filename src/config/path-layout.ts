/**
 * Load-time checks of where the operator's paths sit relative to each other
 * (issue 19). A tool can write anything inside its read-write volume, with
 * ctx.fs or, for container tools, directly. So no volume may reach a place
 * whose content warden trusts:
 *
 * - another volume (nested or equal): the journal and rollback track changes
 *   per volume name, so a write through `inner` would not be a conflict for a
 *   rollback through `ws`, and a container tool could swap `ws/inner` for a
 *   link out of both (rollback then wrote outside every volume);
 * - `journal.dir`: a tool could rewrite the pre-images a rollback restores;
 * - the config folder (warden.config.json and warden.lock.json): a tool could
 *   grant and approve itself;
 * - the audit log's folder: a tool could rewrite or truncate the record;
 * - the folder a `tools` glob searches: a tool could plant a second folder
 *   with an approved tool's name (startup and every reload then refuse the
 *   ambiguous name) or rewrite other tools' code.
 *
 * Paths are compared both as written (resolved) and as real paths (symlinks in
 * the operator's own layout resolved), so a link cannot hide an overlap.
 */
import { realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { WardenError } from "../errors.js";
import type { LoadedConfig } from "./load.js";

interface Place {
  what: string;
  /** Resolved as written, and real (the deepest existing ancestor's realpath + the rest). */
  forms: string[];
}

export async function checkPathLayout(loaded: LoadedConfig, journalDir: string): Promise<void> {
  const { config, file } = loaded;
  const volumes = await Promise.all(Object.entries(config.volumes).map(async ([name, v]) => place(`volumes.${name} (${v.path})`, v.path)));
  for (let i = 0; i < volumes.length; i++)
    for (let j = i + 1; j < volumes.length; j++)
      if (overlap(volumes[i]!, volumes[j]!))
        refuse(file, `${volumes[i]!.what} and ${volumes[j]!.what} overlap (one is inside the other); a tool writing through one would change the other behind its journal and rollback; fix: map volumes to separate folders`);
  const journal = await place(`journal.dir (${journalDir})`, journalDir);
  const trusted = [
    await place(`the config folder (${loaded.dir}, holding the config and warden.lock.json)`, loaded.dir),
    await place(`the audit log's folder (${dirname(config.audit.file)})`, dirname(config.audit.file)),
    journal,
    ...(await Promise.all(config.tools.map((glob) => place(`the folder searched by tools glob ${glob}`, globBase(glob))))),
  ];
  for (const v of volumes) {
    for (const t of trusted)
      if (inside(t, v)) refuse(file, `${t.what} is inside ${v.what}; a tool with that volume could rewrite it; fix: move it out of every volume`);
    if (inside(v, journal)) refuse(file, `${v.what} is inside ${journal.what}; a tool with that volume could rewrite the pre-images; fix: move one of them`);
  }
}

/** The fixed folder a glob searches: its segments before the first one with a wildcard. */
function globBase(glob: string): string {
  const segments = glob.split("/");
  const magic = segments.findIndex((s) => /[*?[\]{}!]/.test(s));
  return (magic === -1 ? segments.slice(0, -1) : segments.slice(0, magic)).join("/") || "/";
}

async function place(what: string, path: string): Promise<Place> {
  return { what, forms: [...new Set([path, await realish(path)])] };
}

/** realpath of the deepest existing ancestor, plus the components that do not exist yet. */
async function realish(path: string): Promise<string> {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(await realpath(at), ...rest.reverse());
    } catch {
      const parent = dirname(at);
      if (parent === at) return path;
      rest.push(basename(at));
      at = parent;
    }
  }
}

/** `a` equals `b` or lies below it (in any of their forms). */
function inside(a: Place, b: Place): boolean {
  return a.forms.some((x) => b.forms.some((y) => x === y || x.startsWith(y.endsWith("/") ? y : `${y}/`)));
}

function overlap(a: Place, b: Place): boolean {
  return inside(a, b) || inside(b, a);
}

function refuse(file: string, message: string): never {
  throw new WardenError("E_CONFIG", `${file}: ${message}`);
}
