import { readFile } from "node:fs/promises";
import { formatCheckpointReport, formatVerifyReport, parsePublicKey, verifyAuditChain, verifyWithCheckpoints } from "../audit/index.js";
import { loadConfigFile } from "../config/load.js";
import { reportCliError } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

const USAGE = "usage: warden audit verify [file] [--checkpoints <file> --pubkey <file|key>] | warden audit keygen --out <file>\n";

/**
 * `warden audit verify [file]`: checks the whole hash chain; exit 1 at the first broken record.
 * With `--checkpoints F --pubkey K` also the signed checkpoints (cut tail, rewritten chain, forged checkpoint).
 */
export const auditCommand: CliCommand = async (args, io) => {
  const { positionals, flags, configPath } = args;
  const [sub, file] = positionals;
  if (sub === "keygen") return (await import("./audit-keygen.js")).auditKeygenCommand(args, io);
  const checkpoints = flags.checkpoints;
  const pubkey = flags.pubkey;
  if (sub !== "verify" || checkpoints === true || pubkey === true || (checkpoints === undefined) !== (pubkey === undefined)) {
    io.stderr(USAGE);
    return EXIT_USAGE;
  }
  try {
    const target = file ?? (await loadConfigFile(configPath)).config.audit.file;
    if (typeof checkpoints === "string" && typeof pubkey === "string") {
      const report = await verifyWithCheckpoints(target, checkpoints, parsePublicKey(await keyText(pubkey)));
      const chainNotes = report.ok ? formatVerifyReport(report.chain).split("\n").slice(1) : [];
      (report.ok ? io.stdout : io.stderr)([formatCheckpointReport(report), ...chainNotes].join("\n") + "\n");
      return report.ok ? EXIT_OK : EXIT_FAILED;
    }
    const report = await verifyAuditChain(target);
    (report.ok ? io.stdout : io.stderr)(formatVerifyReport(report) + "\n");
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } catch (err) {
    return reportCliError(err, io);
  }
};

/** `--pubkey` is a file when one exists at that path, else the key itself. */
async function keyText(pubkey: string): Promise<string> {
  try {
    return await readFile(pubkey, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENAMETOOLONG") return pubkey;
    throw err;
  }
}
