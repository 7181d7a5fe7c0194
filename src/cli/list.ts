import { loadRegistry } from "../broker/index.js";
import { isDisabled } from "../broker/scope.js";
import { exposeServerTools } from "../broker/server-tools.js";
import { loadConfigFile } from "../config/load.js";
import { lockPathFor, readLock } from "../policy/lock.js";
import { reportCliError } from "./errors.js";
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
      approval:
        lock.tools[t.name]?.digest === t.sandbox.digest
          ? "approved"
          : lock.tools[t.name]
            ? `changed since approval of ${lock.tools[t.name]!.version} (run: warden approve ${t.name})`
            : `not approved (run: warden approve ${t.name})`,
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
      io.stdout(JSON.stringify(rows, null, 2) + "\n");
      return EXIT_OK;
    }
    for (const r of rows) {
      io.stdout(`${r.name}@${r.version}  ${r.runtime}  effect=${r.effect}  ${r.state}  ${r.approval}\n`);
      io.stdout(`  network:    ${r.network.join(", ") || "none"}\n`);
      io.stdout(`  filesystem: ${r.filesystem.join(", ") || "none"}\n`);
      io.stdout(`  secrets:    ${r.env.join(", ") || "none"}\n`);
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
