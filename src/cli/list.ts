import { loadRegistry, type RegisteredTool } from "../broker/index.js";
import { isDisabled } from "../broker/scope.js";
import { exposeServerTools } from "../broker/server-tools.js";
import { loadConfigFile } from "../config/load.js";
import { approvalOf, lockPathFor, readLock, type Lock } from "../policy/lock.js";
import { reportCliError } from "./errors.js";
import { shown, shownJson } from "./terminal-text.js";
import { EXIT_OK, type CliCommand } from "./types.js";

/** `warden list`: what each tool may actually do (manifest ∩ grant), as the operator must see it. */
export const listCommand: CliCommand = async ({ configPath, flags }, io) => {
  try {
    const loaded = await loadConfigFile(configPath);
    const registry = await loadRegistry(loaded);
    const lock = await readLock(lockPathFor(loaded.file));
    const rows = [...registry.tools.values()].map((t) => ({
      name: t.name,
      version: t.sandbox.version,
      runtime: t.sandbox.runtime,
      effect: t.effect,
      state: isDisabled(t, loaded.config.disabled) ? "disabled" : "enabled",
      approval: approvalState(t, lock),
      folder: t.sandbox.dir,
      // A hosted server's image ID is bound at approval (the lock), a container tool's at load.
      ...(t.sandbox.runtime !== "isolate" ? { image: t.sandbox.image, imageId: t.loaded.imageId ?? (Object.hasOwn(lock.tools, t.name) ? lock.tools[t.name]!.imageId : undefined) ?? null } : {}),
      ...(t.sandbox.runtime !== "isolate" && t.sandbox.command ? { command: t.sandbox.command } : {}),
      network: t.capabilities.network.map((n) => n.pattern + (n.allowPrivate ? " (private allowed)" : "")),
      filesystem: t.capabilities.filesystem.map((f) => `${f.volume}:${f.access}${f.access === "read-write" && t.sandbox.runtime !== "isolate" ? " (no rollback)" : ""}`),
      // A hosted MCP server exposes the tools pinned at its approval (SPEC §15), under warden's names.
      ...(t.sandbox.runtime === "mcp-server"
        ? { tools: [...exposeServerTools([t], lock, new Set()).values()].map((x) => `${x.name} (${x.effect})`) }
        : {}),
      env: t.capabilities.env,
      limits: t.limits,
      digest: t.sandbox.digest,
    }));
    if (flags.json) {
      io.stdout(shownJson(rows) + "\n");
      return EXIT_OK;
    }
    for (const r of rows) {
      io.stdout(`${shown(r.name)}@${shown(r.version)}  ${r.runtime}  effect=${r.effect}  ${r.state}  ${shown(r.approval)}\n`);
      io.stdout(`  folder:     ${shown(r.folder)}\n`);
      if (r.image !== undefined) io.stdout(`  image:      ${shown(r.image)} (${shown(r.imageId ?? "image ID unknown")})\n`);
      if (r.command !== undefined) io.stdout(`  command:    ${shown(JSON.stringify(r.command))}\n`);
      io.stdout(`  network:    ${r.network.map(shown).join(", ") || "none"}\n`);
      io.stdout(`  filesystem: ${r.filesystem.map(shown).join(", ") || "none"}\n`);
      io.stdout(`  secrets:    ${r.env.map(shown).join(", ") || "none"}\n`);
      io.stdout(`  limits:     timeout ${r.limits.timeoutMs} ms, memory ${r.limits.memoryMb} MiB, output ${r.limits.outputBytes} B\n`);
      if (r.tools) io.stdout(`  tools:      ${r.tools.join(", ") || "none pinned (run: warden approve " + r.name + ")"}\n`);
      io.stdout(`  digest:     ${r.digest}\n`);
    }
    if (rows.length === 0) io.stdout("no tools found (check the tools globs in the config)\n");
    return EXIT_OK;
  } catch (err) {
    return reportCliError(err, io);
  }
};

function approvalState(t: RegisteredTool, lock: Lock): string {
  const approval = approvalOf(lock, t.name);
  if (approval?.digest === t.sandbox.digest) return "approved";
  if (t.loaded.imageProblem !== undefined) return `not approvable now: the image ID of ${t.sandbox.runtime === "isolate" ? "(none)" : t.sandbox.image} cannot be read (${t.loaded.imageProblem})`;
  if (approval) {
    const rebuilt = approval.imageId !== undefined && t.loaded.imageId !== undefined && approval.imageId !== t.loaded.imageId;
    return `changed since approval of ${approval.version}${rebuilt ? " (the image was rebuilt or retagged)" : ""} (run: warden approve ${t.name})`;
  }
  return `not approved (run: warden approve ${t.name})`;
}
