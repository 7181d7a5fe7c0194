import { createInterface } from "node:readline";
import { findToolDirs, registerTool } from "../broker/registry.js";
import { describeServerTools, pinsOf, sameServerApproval, serverChanges } from "../policy/server-approval.js";
import { WARDEN_VERSION } from "../version.js";
import { jsonSchemaProblems } from "../manifest/json-schema.js";
import { loadConfigFile } from "../config/load.js";
import { loadTool, readEngineImageId, validateToolDir, type LoadedTool } from "../manifest/index.js";
import { approvalDiff } from "../policy/approval-diff.js";
import { approvalFor, approvalOf, lockPathFor, readLock, withApproval, writeLock, type Approval } from "../policy/lock.js";
import { reportCliError } from "./errors.js";
import { WardenError } from "../errors.js";
import { shown } from "./terminal-text.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from "./types.js";

/** `warden approve <tool> [--yes]`: review what the tool declares (and what is new), then bind approval to its digest. */
export const approveCommand: CliCommand = async ({ positionals, flags, configPath }, io) => {
  const [name] = positionals;
  if (!name) {
    io.stderr("usage: warden approve <tool> [--yes]\n");
    return EXIT_USAGE;
  }
  try {
    const loaded = await loadConfigFile(configPath);
    const dirs = await toolDirsNamed(loaded.config.tools, name);
    if (dirs.length === 0) {
      io.stderr(`warden: no tool named "${shown(name)}" under the config's tools globs\n`);
      return EXIT_FAILED;
    }
    if (dirs.length > 1) {
      // An impostor folder with the same name (and an extra host) must not be approved in the real one's place.
      io.stderr(`warden: refusing to approve: ${dirs.length} tool folders are named "${shown(name)}":\n${dirs.map((d) => `  ${shown(d)}\n`).join("")}rename or remove the one you do not mean, or narrow the tools globs\n`);
      return EXIT_FAILED;
    }
    const tool = await loadTool(dirs[0]!, { imageIdOf: readEngineImageId });
    if (tool.manifest.runtime === "container" && tool.imageId === undefined) {
      io.stderr(`warden: cannot approve ${shown(name)}: its approval binds the image ID of ${shown(tool.manifest.image)}, and the engine could not give it (${shown(tool.imageProblem)}); build the image (warden images build) where the engine is reachable\n`);
      return EXIT_FAILED;
    }
    const lockFile = lockPathFor(loaded.file);
    const lock = await readLock(lockFile);
    const next = approvalFor(tool.manifest, tool.digest, tool.limits, new Date(), tool.imageId ? { imageId: tool.imageId } : {});
    const previous = approvalOf(lock, name);
    const server = tool.manifest.runtime === "mcp-server" ? await probeHostedServer(tool, loaded, io) : null;
    if (server) Object.assign(next, server);
    if (previous && (server ? sameServerApproval(previous, next) : previous.digest === next.digest)) {
      io.stdout(`${shown(name)}@${shown(next.version)} is already approved (digest ${next.digest})\n`);
      return EXIT_OK;
    }
    io.stdout(describeApproval(next, tool));
    if (server) io.stdout(`\nTools the server lists (clients see these names; the effect decides confirmation):\n${describeServerTools(tool.manifest, prefixOfManifest(tool.manifest), server.pins)}`);
    if (previous) {
      const diff = [...approvalDiff(previous, next), ...(server ? serverChanges(previous, next, prefixOfManifest(tool.manifest)) : [])];
      io.stdout(`\nChanged since the approved ${shown(previous.version)} (${shown(previous.approvedAt)}):\n${diff.map((d) => `  ${shown(d)}`).join("\n") || "  nothing declared changed; only the files did"}\n`);
    } else io.stdout("\nThis tool was never approved before.\n");
    const yes = flags.yes === true || (await ask(`Approve ${shown(name)}@${shown(next.version)}? [y/N] `, io));
    if (!yes) {
      io.stderr("not approved\n");
      return EXIT_FAILED;
    }
    const fresh = await readLock(lockFile);
    await writeLock(lockFile, withApproval(fresh, name, next));
    io.stdout(`approved ${shown(name)}@${shown(next.version)} (${next.digest}) in ${lockFile}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportCliError(err, io);
  }
};

/**
 * SPEC §15: a hosted server is approved with what it lists. It is started in its
 * sandbox (its volumes and granted secrets, no network), its tools are read and
 * pinned, with the image ID it ran from.
 */
async function probeHostedServer(tool: LoadedTool, loaded: Awaited<ReturnType<typeof loadConfigFile>>, io: CliIo): Promise<{ imageId: string; pins: ReturnType<typeof pinsOf> }> {
  const registered = registerTool(tool, loaded);
  if (registered.sandbox.runtime !== "mcp-server") throw new WardenError("E_MANIFEST", `${tool.manifest.name} is not an mcp-server tool`);
  io.stdout(`starting ${shown(tool.manifest.name)} (${shown(tool.manifest.image ?? "")}) in its sandbox to read its tools…\n`);
  const { probeServer } = await import("../../sandboxes/mcp-server/index.js");
  const probe = await probeServer(registered.sandbox, registered.secrets, { version: WARDEN_VERSION, runtime: loaded.config.container.runtime });
  // A tool whose schema warden cannot compile is never exposed: say so now, not silently at serve time.
  for (const d of probe.definitions) {
    const problems = [...jsonSchemaProblems(d.inputSchema ?? {}), ...(d.outputSchema ? jsonSchemaProblems(d.outputSchema) : [])];
    if (problems.length > 0) io.stdout(`WARNING: ${shown(d.name)} will not be exposed: its schema ${shown(problems.join("; "))}\n`);
  }
  return { imageId: probe.imageId, pins: pinsOf(probe.definitions) };
}

function prefixOfManifest(m: LoadedTool["manifest"]): string {
  return m.toolPrefix ?? `${m.name}_`;
}

/** Every field of the approval, and what runs (entry, image, image ID, command), escaped: all of it is the author's text. */
export function describeApproval(a: Approval, tool?: Pick<LoadedTool, "manifest" | "dir">): string {
  const rw = a.runtime !== "isolate" ? " (no rollback)" : "";
  const lines = [`${shown(a.name)}@${shown(a.version)}  runtime=${a.runtime}  effect=${a.effect}`];
  if (tool) lines.push(`  folder:        ${shown(tool.dir)}`, `  description:   ${shown(tool.manifest.description)}`);
  if (a.entry !== undefined) lines.push(`  entry:         ${shown(a.entry)}`);
  if (a.image !== undefined) lines.push(`  image:         ${shown(a.image)}`, `  image ID:      ${shown(a.imageId ?? "(not bound)")}`);
  if (a.runtime !== "isolate") lines.push(`  command:       ${a.command ? shown(JSON.stringify(a.command)) : "(the image's default)"}`);
  lines.push(
    `  network hosts: ${a.capabilities.network.map(shown).join(", ") || "none"}`,
    `  volumes:       ${a.capabilities.filesystem.map((f) => `${shown(f.volume)} (${f.access}${f.access === "read-write" ? rw : ""})`).join(", ") || "none"}`,
    `  secrets:       ${a.capabilities.env.map(shown).join(", ") || "none"}`,
    `  limits:        ${Object.entries(a.limits).map(([k, v]) => `${shown(k)}=${v}`).join(" ")}`,
    `  digest:        ${a.digest}`,
    "",
  );
  return lines.join("\n");
}

/** Folders under the globs whose manifest names `name` (broken folders cannot be approved, so they are not counted). */
export async function toolDirsNamed(patterns: readonly string[], name: string): Promise<string[]> {
  const dirs: string[] = [];
  for (const dir of await findToolDirs(patterns)) {
    const { tool } = await validateToolDir(dir).catch(() => ({ tool: null }));
    if (tool?.manifest.name === name) dirs.push(tool.dir);
  }
  return dirs;
}

async function ask(question: string, io: CliIo): Promise<boolean> {
  io.stdout(question);
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => {
    rl.once("line", resolve);
    rl.once("close", () => resolve(""));
  });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}
