import { formatProblemLines, validateToolDir } from "../manifest/index.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/**
 * `warden validate <dir>` (SPEC §11): every problem of a tool folder at once,
 * so an author fixes them in one pass. Exit 0 ok, 1 problems, 2 usage.
 */
export const validateCommand: CliCommand = async ({ positionals }, io) => {
  if (positionals.length !== 1) {
    io.stderr("usage: warden validate <tool folder>\n");
    return EXIT_USAGE;
  }
  const dir = positionals[0]!;
  const { tool, problems } = await validateToolDir(dir);
  if (!tool || problems.length > 0) {
    io.stderr(`invalid: ${dir}: ${problems.length} problem(s)\n`);
    for (const line of formatProblemLines(problems)) io.stderr(`  ${line}\n`);
    return EXIT_FAILED;
  }
  const m = tool.manifest;
  io.stdout(`ok: ${m.name}@${m.version} (${m.runtime}) digest ${tool.digest}\n`);
  if (m.runtime === "container")
    io.stdout(`  note: image "${m.image}" is not checked here; build it with \`warden images build\`\n`);
  return EXIT_OK;
};
