import { createLogger } from "../logger.js";
import { openRuntime } from "../runtime/open.js";
import { reportCliError } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/** `warden call <tool> '<json>'`: one call through the same broker (audited), as the stdio identity. */
export const callCommand: CliCommand = async ({ positionals, configPath }, io) => {
  const [name, json = "{}"] = positionals;
  if (!name) {
    io.stderr("usage: warden call <tool> '<json>'\n");
    return EXIT_USAGE;
  }
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch {
    io.stderr(`warden: the input is not valid JSON: ${json.slice(0, 200)}\n`);
    return EXIT_USAGE;
  }
  const logger = createLogger({ level: process.env.WARDEN_LOG_LEVEL ?? "warn" });
  let runtime;
  try {
    runtime = await openRuntime(configPath, logger);
  } catch (err) {
    return reportCliError(err, io);
  }
  try {
    const result = await runtime.broker.call(name, input, {
      actor: "stdio",
      session: "cli",
      allow: runtime.loaded.config.stdio.allow,
      signal: new AbortController().signal,
      log: (level, message) => io.stderr(`[${name}] ${level}: ${message}\n`),
      progress: (done, total) => io.stderr(`[${name}] progress ${done}${total !== undefined ? `/${total}` : ""}\n`),
    });
    if (result.ok) {
      // A hosted server's result is content blocks (and structuredContent when it sent one).
      const shown = result.content ? { content: result.content, ...(result.output !== undefined ? { structuredContent: result.output } : {}) } : result.output;
      io.stdout(JSON.stringify(shown, null, 2) + "\n");
      return EXIT_OK;
    }
    io.stderr(`${result.error.code}: ${result.error.message}\n`);
    io.stdout(JSON.stringify({ error: result.error, callId: result.callId }, null, 2) + "\n");
    return EXIT_FAILED;
  } finally {
    await runtime.close();
  }
};
