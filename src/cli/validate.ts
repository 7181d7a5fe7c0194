import { formatProblemLines, validateToolDir } from "../manifest/index.js";
import { shown } from "./terminal-text.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/**
 * `warden validate <dir>` (SPEC §11): every problem of a tool folder at once,
 * so an author fixes them in one pass. Exit 0 ok, 1 problems, 2 usage.
 * Everything printed from the folder (file names, values quoted in problems,
 * name, version, image) goes through `shown()`: it is the author's text.
 */
export const validateCommand: CliCommand = async ({ positionals }, io) => {
  if (positionals.length !== 1) {
    io.stderr("usage: warden validate <tool folder>\n");
    return EXIT_USAGE;
  }
  const dir = positionals[0]!;
  const { tool, problems } = await validateToolDir(dir);
  if (!tool || problems.length > 0) {
    io.stderr(`invalid: ${shown(dir)}: ${problems.length} problem(s)\n`);
    for (const line of formatProblemLines(problems)) io.stderr(`  ${shown(line)}\n`);
    return EXIT_FAILED;
  }
  const m = tool.manifest;
  io.stdout(`ok: ${shown(m.name)}@${shown(m.version)} (${m.runtime}) digest ${tool.digest}\n`);
  if (m.runtime === "container")
    io.stdout(`  note: image "${shown(m.image)}" is not checked here (its ID joins the digest at approval and load); build it with \`warden images build\`\n`);
  return EXIT_OK;
};
