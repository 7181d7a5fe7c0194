import { generateSigningKey } from "../audit/index.js";
import { reportCliError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/**
 * `warden audit keygen --out <file>`: the Ed25519 key that signs audit
 * checkpoints (SPEC §10). Private key mode 0600, never overwritten; the
 * public key goes to `<file>.pub` and stdout, for whoever verifies later.
 */
export const auditKeygenCommand: CliCommand = async ({ flags }, io) => {
  if (typeof flags.out !== "string" || flags.out === "") {
    io.stderr("usage: warden audit keygen --out <file>\n");
    return EXIT_USAGE;
  }
  try {
    const key = await generateSigningKey(flags.out);
    io.stdout(`${key.publicKeyLine}\n`);
    io.stderr(
      `wrote the private key to ${key.privateKeyFile} (mode 0600) and the public key to ${key.publicKeyFile}\n` +
        `keep the private key out of every tool volume and the config folder (a secret mount); give the public key to whoever verifies:\n` +
        `  warden audit verify --checkpoints <file> --pubkey ${key.publicKeyFile}\n`,
    );
    return EXIT_OK;
  } catch (err) {
    return reportCliError(err, io);
  }
};
