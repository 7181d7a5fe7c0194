import { existsSync, readFileSync } from "node:fs";
import { enableCompileCache } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WARDEN_VERSION } from "../version.js";
import { EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from "./types.js";

/** `warden <command> …` (SPEC §11). Loaded lazily so `warden validate` does not start sandboxes. */
const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  serve: async () => (await import("./serve.js")).serveCommand,
  list: async () => (await import("./list.js")).listCommand,
  call: async () => (await import("./call.js")).callCommand,
  validate: async () => (await import("./validate.js")).validateCommand,
  init: async () => (await import("./init.js")).initCommand,
  audit: async () => (await import("./audit-verify.js")).auditCommand,
  images: async () => (await import("./images.js")).imagesCommand,
  approve: async () => (await import("./approve.js")).approveCommand,
  disable: async () => (await import("./disable.js")).disableCommand,
  enable: async () => (await import("./disable.js")).enableCommand,
  rollback: async () => (await import("./rollback.js")).rollbackCommand,
};

const USAGE = `usage: warden <command> [--config F]
       warden --version | -v          print the version
  serve [--http]                 run the MCP server (stdio by default)
  list                           tools, effect, runtime, capabilities
  call <tool> '<json>'           run one call locally through the broker
  validate <dir>                 check a tool folder
  init <name> --runtime isolate|container   scaffold a tool folder
  init <name> --runtime mcp-server --npm <pkg>[@ver] | --pypi <pkg>[==ver]   host an MCP server package
  approve <tool> [--yes]         review and approve a tool (binds to its digest)
  disable|enable <tool|class>    kill switch, applied live
  audit verify [file] [--checkpoints F --pubkey K]   verify the audit hash chain (and its signed checkpoints)
  audit keygen --out F           Ed25519 key pair for audit checkpoints
  images build                   build the base, Node, egress proxy and tool images (Docker; stages npm/PyPI packages)
  rollback <callId> [--force]    undo the file changes (ctx.fs) of one call
exit codes: 0 ok, 1 the thing checked failed, 2 usage or config error`;

export function parseCli(argv: string[]): { command: string | undefined; positionals: string[]; flags: Record<string, string | boolean> } {
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      if (eq > 0) flags[arg.slice(2, eq)] = arg.slice(eq + 1);
      else if (["config", "runtime", "dir", "file", "checkpoints", "pubkey", "out", "npm", "pypi"].includes(arg.slice(2)) && i + 1 < argv.length) flags[arg.slice(2)] = argv[++i]!;
      else flags[arg.slice(2)] = true;
    } else positionals.push(arg);
  }
  return { command: positionals.shift(), positionals, flags };
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // Start-up matters (first tools/list under 1 s): reuse V8's compiled code across runs when a cache dir is writable.
  if (process.env.WARDEN_COMPILE_CACHE !== "0") enableCompileCache?.();
  const { command, positionals, flags } = parseCli(argv);
  if (flags.version === true || command === "-v") {
    io.stdout(`mcp-warden ${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (!command || flags.help || command === "help") {
    io.stderr(USAGE + "\n");
    return command || flags.help ? 0 : EXIT_USAGE;
  }
  const load = COMMANDS[command];
  if (!load) {
    io.stderr(`warden: unknown command "${command}"\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const configPath = resolve(typeof flags.config === "string" ? flags.config : "warden.config.json");
  const run = await load();
  return run({ positionals, flags, configPath }, io);
}

/** The version of the installed package: package.json of the mcp-warden folder this file was loaded from. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "mcp-warden" && typeof pkg.version === "string") return pkg.version;
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    const up = dirname(dir);
    if (up === dir) return WARDEN_VERSION;
    dir = up;
  }
}

const io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };
if (process.argv[1] && import.meta.url === new URL(`file://${resolve(process.argv[1])}`).href) {
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      io.stderr(`warden: ${(err as Error).message}\n`);
      process.exitCode = 2;
    },
  );
}
