import { formatVerifyReport, verifyAuditChain } from "../audit/index.js";
import { loadConfigFile } from "../config/load.js";
import { reportCliError } from "./errors.js";
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/** `warden audit verify [file]`: checks the whole hash chain; exit 1 at the first broken record. */
export const auditCommand: CliCommand = async ({ positionals, configPath }, io) => {
  const [sub, file] = positionals;
  if (sub !== "verify") {
    io.stderr("usage: warden audit verify [file]\n");
    return EXIT_USAGE;
  }
  try {
    const target = file ?? (await loadConfigFile(configPath)).config.audit.file;
    const report = await verifyAuditChain(target);
    (report.ok ? io.stdout : io.stderr)(formatVerifyReport(report) + "\n");
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } catch (err) {
    return reportCliError(err, io);
  }
};
