import { WardenError } from "../errors.js";
import { shown } from "./terminal-text.js";
import { EXIT_FAILED, EXIT_USAGE, type CliIo } from "./types.js";

/**
 * Config and manifest problems are usage/config errors (exit 2); anything else failed (exit 1).
 * Messages quote tool folders (file names, manifest values): each line is escaped like all tool text.
 */
export function reportCliError(err: unknown, io: CliIo): number {
  if (err instanceof WardenError) {
    io.stderr(`warden: ${err.code}: ${escapedLines(err.message)}\n`);
    return err.code === "E_CONFIG" || err.code === "E_MANIFEST" || err.code === "E_USAGE" ? EXIT_USAGE : EXIT_FAILED;
  }
  io.stderr(`warden: ${escapedLines((err as Error)?.message ?? String(err))}\n`);
  return EXIT_FAILED;
}

function escapedLines(message: string): string {
  return message.split("\n").map(shown).join("\n");
}
