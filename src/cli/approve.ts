import { createInterface } from "node:readline";
import { findToolDirs, registerTool } from "../broker/registry.js";
import { describeServerTools, pinsOf, sameServerApproval, serverChanges } from "../policy/server-approval.js";
import { WARDEN_VERSION } from "../version.js";
import { loadConfigFile } from "../config/load.js";
import { loadTool, type LoadedTool } from "../manifest/index.js";
import { approvalDiff } from "../policy/approval-diff.js";
import { approvalFor, lockPathFor, readLock, writeLock, type Approval } from "../policy/lock.js";
import { reportCliError } from "./errors.js";
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
    const tool = await findTool(loaded.config.tools, name);
    if (!tool) {
      io.stderr(`warden: no tool named "${name}" under the config's tools globs\n`);
      return EXIT_FAILED;
    }
    const lockFile = lockPathFor(loaded.file);
    const lock = await readLock(lockFile);
    const next = approvalFor(tool.manifest, tool.digest, tool.limits);
    const previous = Object.hasOwn(lock.tools, name) ? lock.tools[name] : undefined;
    const server = tool.manifest.runtime === "mcp-server" ? await probeHostedServer(tool, loaded, io) : null;
    if (server) Object.assign(next, server);
    if (previous && (server ? sameServerApproval(previous, next) : previous.digest === next.digest)) {
      io.stdout(`${name}@${next.version} is already approved (digest ${next.digest})\n`);
      return EXIT_OK;
    }
    io.stdout(describeApproval(next));
    if (server) io.stdout(`\nTools the server lists (clients see these names; the effect decides confirmation):\n${describeServerTools(tool.manifest, prefixOfManifest(tool.manifest), server.pins)}`);
    if (previous) {
      const diff = [...approvalDiff(previous, next), ...(server ? serverChanges(previous, next, prefixOfManifest(tool.manifest)) : [])];
      io.stdout(`\nChanged since the approved ${previous.version} (${previous.approvedAt}):\n${diff.map((d) => `  ${d}`).join("\n") || "  nothing declared changed; only the files did"}\n`);
    } else io.stdout("\nThis tool was never approved before.\n");
    const yes = flags.yes === true || (await ask(`Approve ${name}@${next.version}? [y/N] `, io));
    if (!yes) {
      io.stderr("not approved\n");
      return EXIT_FAILED;
    }
    const fresh = await readLock(lockFile);
    fresh.tools[name] = next;
    await writeLock(lockFile, fresh);
    io.stdout(`approved ${name}@${next.version} (${next.digest}) in ${lockFile}\n`);
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
  io.stdout(`starting ${tool.manifest.name} (${tool.manifest.image}) in its sandbox to read its tools…\n`);
  const { probeServer } = await import("../../sandboxes/mcp-server/index.js");
  const probe = await probeServer(registered.sandbox, registered.secrets, { version: WARDEN_VERSION });
  return { imageId: probe.imageId, pins: pinsOf(probe.definitions) };
}

function prefixOfManifest(m: LoadedTool["manifest"]): string {
  return m.toolPrefix ?? `${m.name}_`;
}

export function describeApproval(a: Approval): string {
  const rw = a.runtime !== "isolate" ? " (no rollback)" : "";
  return [
    `${a.name}@${a.version}  runtime=${a.runtime}  effect=${a.effect}`,
    `  network hosts: ${a.capabilities.network.join(", ") || "none"}`,
    `  volumes:       ${a.capabilities.filesystem.map((f) => `${f.volume} (${f.access}${f.access === "read-write" ? rw : ""})`).join(", ") || "none"}`,
    `  secrets:       ${a.capabilities.env.join(", ") || "none"}`,
    `  limits:        ${Object.entries(a.limits).map(([k, v]) => `${k}=${v}`).join(" ")}`,
    `  digest:        ${a.digest}`,
    "",
  ].join("\n");
}

export async function findTool(patterns: readonly string[], name: string): Promise<LoadedTool | null> {
  for (const dir of await findToolDirs(patterns)) {
    const tool = await loadTool(dir).catch(() => null);
    if (tool?.manifest.name === name) return tool;
  }
  return null;
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
