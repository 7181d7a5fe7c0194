import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildImages } from "../../sandboxes/container/index.js";
import { reportCliError } from "./errors.js";
import { EXIT_OK, EXIT_USAGE, type CliCommand } from "./types.js";

/** `warden images build [name…]`: base image from Debian packages, then every tool image; never pulls. */
export const imagesCommand: CliCommand = async ({ positionals }, io) => {
  const [sub, ...only] = positionals;
  if (sub !== "build") {
    io.stderr("usage: warden images build [base|<tool image>…]\n");
    return EXIT_USAGE;
  }
  // dist/src/cli/images.js → the package root holds images/
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  try {
    const started = Date.now();
    const { built } = await buildImages({ root, onProgress: (line) => io.stderr(`[images] ${line}\n`), ...(only.length ? { only } : {}) });
    io.stdout(`built ${built.length} image(s) in ${Math.round((Date.now() - started) / 1000)} s: ${built.join(", ") || "nothing to do"}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportCliError(err, io);
  }
};
