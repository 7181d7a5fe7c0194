import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../../src/cli/main.js";
import type { CliIo } from "../../src/cli/types.js";
import { WARDEN_VERSION } from "../../src/version.js";
import { repoRoot } from "../helpers/paths.js";

const run = promisify(execFile);

function captured(): CliIo & { out: string; err: string } {
  const io = { out: "", err: "", stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

/** The version an operator installed: package.json of this repository. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version: string };
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
  return pkg.version;
}

describe("warden --version / -v", () => {
  for (const flag of ["--version", "-v"]) {
    test(`bin/warden.js ${flag} prints "mcp-warden <package.json version>" on stdout and exits 0`, async () => {
      // The real entry an operator runs: the launcher re-execs Node with --no-node-snapshot, then loads dist/src/cli/main.js.
      const { stdout, stderr } = await run(process.execPath, [join(repoRoot(), "bin", "warden.js"), flag], {
        cwd: repoRoot(),
        timeout: 60_000,
        env: { ...process.env, WARDEN_COMPILE_CACHE: "0" },
      });
      assert.equal(stdout, `mcp-warden ${packageVersion()}\n`);
      assert.equal(stderr, "");
    });

    test(`runCli(["${flag}"]) prints the version and returns 0 without loading a config`, async () => {
      const io = captured();
      // No warden.config.json exists at this --config path: the version must not need one.
      assert.equal(await runCli([flag, "--config", "/nonexistent/warden.config.json"], io), 0);
      assert.equal(io.out, `mcp-warden ${packageVersion()}\n`);
      assert.equal(io.err, "");
    });
  }

  test("the usage text names the flag", async () => {
    const io = captured();
    assert.equal(await runCli(["--help"], io), 0);
    assert.match(io.err, /warden --version \| -v/);
  });

  test("the version MCP clients see (serverInfo) is the package version", () => {
    assert.equal(WARDEN_VERSION, packageVersion());
  });
});
