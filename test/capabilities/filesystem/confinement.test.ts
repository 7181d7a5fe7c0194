import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { CANARY, volumeFixture, type VolumeFixture } from "./volume-fixture.js";

let v: VolumeFixture;
beforeEach(() => {
  v = volumeFixture();
  mkdirSync(join(v.ws, "sub"));
  writeFileSync(join(v.ws, "sub", "inside.txt"), "inside");
});
afterEach(() => v.cleanup());

function code(res: { ok: boolean; error?: { code: string } }): string {
  return res.ok ? "ok" : (res.error?.code ?? "?");
}

describe("symlinks", () => {
  test("a relative symlink out of the volume is refused for read, write and stat", async () => {
    symlinkSync("../ws-evil/canary.txt", join(v.ws, "out"));
    const read = await v.fs({ op: "readFile", path: "/mnt/ws/out", encoding: "utf8" });
    assert.deepEqual(read, {
      ok: false,
      error: {
        code: "E_CAPABILITY_DENIED",
        message: "filesystem: /mnt/ws/out is refused: a symbolic link on this path leads outside the volume ws; links may only point inside their volume",
      },
    });
    assert.equal(code(await v.fs({ op: "writeFile", path: "/mnt/ws/out", data: "pwned" })), "E_CAPABILITY_DENIED");
    assert.equal(code(await v.fs({ op: "stat", path: "/mnt/ws/out" })), "E_CAPABILITY_DENIED");
    assert.ok(v.outsideUntouched());
  });

  test("an absolute symlink out of the volume is refused", async () => {
    symlinkSync("/etc/hostname", join(v.ws, "host"));
    symlinkSync(join(v.evil, "canary.txt"), join(v.ws, "abs"));
    assert.equal(code(await v.fs({ op: "readFile", path: "/mnt/ws/host" })), "E_CAPABILITY_DENIED");
    assert.equal(code(await v.fs({ op: "readFile", path: "/mnt/ws/abs" })), "E_CAPABILITY_DENIED");
  });

  test("an absolute symlink into the sibling <volume>-evil directory is refused (prefix trick on host paths)", async () => {
    // `${v.ws}-evil/...` starts with the string `${v.ws}`: only a `<root>/` prefix check refuses it.
    symlinkSync(`${v.ws}-evil/canary.txt`, join(v.ws, "prefix"));
    symlinkSync(`${v.ws}-evil`, join(v.ws, "prefixdir"));
    assert.equal(code(await v.fs({ op: "readFile", path: "/mnt/ws/prefix" })), "E_CAPABILITY_DENIED");
    assert.equal(code(await v.fs({ op: "writeFile", path: "/mnt/ws/prefixdir/new.txt", data: "x" })), "E_CAPABILITY_DENIED");
    assert.equal(code(await v.fs({ op: "readdir", path: "/mnt/ws/prefixdir" })), "E_CAPABILITY_DENIED");
    assert.ok(v.outsideUntouched());
  });

  test("a directory symlink out of the volume is refused as a path component, for every operation", async () => {
    symlinkSync("../ws-evil", join(v.ws, "evil"));
    const ops = [
      { op: "readFile", path: "/mnt/ws/evil/canary.txt" },
      { op: "writeFile", path: "/mnt/ws/evil/canary.txt", data: "pwned" },
      { op: "writeFile", path: "/mnt/ws/evil/new.txt", data: "pwned" },
      { op: "readdir", path: "/mnt/ws/evil" },
      { op: "stat", path: "/mnt/ws/evil/canary.txt" },
      { op: "mkdir", path: "/mnt/ws/evil/made" },
      { op: "mkdir", path: "/mnt/ws/evil/a/b", recursive: true },
      { op: "rm", path: "/mnt/ws/evil/canary.txt" },
    ] as const;
    for (const operation of ops) {
      assert.equal(code(await v.fs(operation)), "E_CAPABILITY_DENIED", `${operation.op} ${operation.path}`);
    }
    assert.ok(v.outsideUntouched());
  });

  test("a link chain that climbs out through .. is refused", async () => {
    symlinkSync("..", join(v.ws, "sub", "up")); // sub/up -> ws (inside)
    symlinkSync("../..", join(v.ws, "sub", "upup")); // sub/upup -> base (outside)
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/ws/sub/up/sub/inside.txt", encoding: "utf8" }), { ok: true, value: "inside" });
    assert.equal(code(await v.fs({ op: "readFile", path: "/mnt/ws/sub/upup/ws-evil/canary.txt" })), "E_CAPABILITY_DENIED");
  });

  test("symlinks that stay inside the volume are followed (relative and absolute)", async () => {
    symlinkSync("sub/inside.txt", join(v.ws, "rel"));
    symlinkSync(join(v.ws, "sub"), join(v.ws, "absdir"));
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/ws/rel", encoding: "utf8" }), { ok: true, value: "inside" });
    assert.deepEqual(await v.fs({ op: "readFile", path: "/mnt/ws/absdir/inside.txt", encoding: "utf8" }), { ok: true, value: "inside" });
    assert.deepEqual(await v.fs({ op: "readdir", path: "/mnt/ws/absdir" }), { ok: true, value: ["inside.txt"] });
    assert.equal(code(await v.fs({ op: "writeFile", path: "/mnt/ws/absdir/w.txt", data: "w" })), "ok");
    assert.equal(readFileSync(join(v.ws, "sub", "w.txt"), "utf8"), "w");
  });

  test("a symlink loop fails cleanly", async () => {
    symlinkSync("loop2", join(v.ws, "loop1"));
    symlinkSync("loop1", join(v.ws, "loop2"));
    const res = await v.fs({ op: "readFile", path: "/mnt/ws/loop1" });
    assert.deepEqual(res, { ok: false, error: { code: "E_TOOL_FAILED", message: "filesystem: /mnt/ws/loop1: too many levels of symbolic links" } });
  });

  test("rm of a symlink removes the link, never its target; recursive rm does not descend through links", async () => {
    symlinkSync("../ws-evil/canary.txt", join(v.ws, "filelink"));
    symlinkSync("../../ws-evil", join(v.ws, "sub", "dirlink"));
    assert.equal(code(await v.fs({ op: "rm", path: "/mnt/ws/filelink" })), "ok");
    assert.ok(!existsSync(join(v.ws, "filelink")) && lstatSync(join(v.evil, "canary.txt")).isFile());
    assert.equal(code(await v.fs({ op: "rm", path: "/mnt/ws/sub", recursive: true })), "ok");
    assert.ok(!existsSync(join(v.ws, "sub")));
    assert.ok(v.outsideUntouched());
  });
});

describe("a symlink swapped in after the checks", () => {
  // beforeMutation runs after the path was resolved and checked and before the file is opened:
  // the exact window a TOCTOU attacker aims at, made deterministic.
  function swapInBeforeOpen(target: string): VolumeFixture {
    const fixture = volumeFixture({}, {
      beforeMutation: async (change) => {
        if (!change.path.endsWith("/victim")) return;
        renameSync(join(fixture.ws, ".link"), join(fixture.ws, "victim"));
      },
    });
    writeFileSync(join(fixture.ws, "victim"), "inside");
    symlinkSync(target, join(fixture.ws, ".link"));
    return fixture;
  }

  test("a dangling link to a new outside file makes the write fail, not create that file", async () => {
    const fixture = swapInBeforeOpen("../ws-evil/planted.txt");
    try {
      const res = await fixture.fs({ op: "writeFile", path: "/mnt/ws/victim", data: "pwned" });
      assert.equal(res.ok, false);
      assert.ok(fixture.outsideUntouched(), "no planted.txt outside");
    } finally {
      fixture.cleanup();
    }
  });

  test("mkdir -p: a link planted just before a component is created is not followed out", async () => {
    const fixture = volumeFixture({}, {
      beforeMutation: async (change) => {
        if (change.path.endsWith("/a")) symlinkSync("../ws-evil", join(fixture.ws, "a"));
      },
    });
    try {
      const res = await fixture.fs({ op: "mkdir", path: "/mnt/ws/a/b/c", recursive: true });
      assert.equal(res.ok || res.error.code, "E_CAPABILITY_DENIED");
      assert.ok(fixture.outsideUntouched(), "no b/c created outside");
    } finally {
      fixture.cleanup();
    }
  });

  test("a link to an existing outside file makes the write fail, not change it", async () => {
    const fixture = swapInBeforeOpen("../ws-evil/canary.txt");
    try {
      const res = await fixture.fs({ op: "writeFile", path: "/mnt/ws/victim", data: "pwned" });
      assert.equal(res.ok, false);
      assert.ok(fixture.outsideUntouched());
    } finally {
      fixture.cleanup();
    }
  });
});

describe("a directory moved out of the volume while we hold it", () => {
  // Only someone with host access can move a directory across the volume boundary (tools cannot:
  // ctx.fs has no rename, and bind mounts make it EXDEV in containers). The last check, readlink of
  // the opened fd, still catches it before a byte is written.
  test("the write is refused and the moved file keeps its content", async () => {
    const fixture = volumeFixture({}, {
      beforeMutation: async () => {
        renameSync(join(fixture.ws, "sub"), join(fixture.evil, "moved"));
      },
    });
    try {
      mkdirSync(join(fixture.ws, "sub"));
      writeFileSync(join(fixture.ws, "sub", "existing.txt"), "inside");
      const res = await fixture.fs({ op: "writeFile", path: "/mnt/ws/sub/existing.txt", data: "pwned" });
      assert.equal(res.ok || res.error.code, "E_CAPABILITY_DENIED");
      assert.equal(readFileSync(join(fixture.evil, "moved", "existing.txt"), "utf8"), "inside");
    } finally {
      fixture.cleanup();
    }
  });
});

describe("hard links and special files", () => {
  test("a hard link to a file outside the volume is refused for read and write", async () => {
    linkSync(join(v.evil, "canary.txt"), join(v.ws, "hard.txt"));
    const read = await v.fs({ op: "readFile", path: "/mnt/ws/hard.txt", encoding: "utf8" });
    assert.deepEqual(read, {
      ok: false,
      error: {
        code: "E_CAPABILITY_DENIED",
        message: "filesystem: /mnt/ws/hard.txt is refused: it is a hard link (2 names) and may share its content with a file outside the volume; the operator can replace it with a copy",
      },
    });
    assert.equal(code(await v.fs({ op: "writeFile", path: "/mnt/ws/hard.txt", data: "pwned" })), "E_CAPABILITY_DENIED");
    assert.equal(readFileSync(join(v.evil, "canary.txt"), "utf8"), CANARY);
  });

  test("a fifo is refused for read and write, without blocking", async () => {
    const made = spawnSync("mkfifo", [join(v.ws, "pipe")]);
    assert.equal(made.status, 0, "mkfifo is needed for this test");
    const read = await v.fs({ op: "readFile", path: "/mnt/ws/pipe" });
    assert.deepEqual(read, { ok: false, error: { code: "E_CAPABILITY_DENIED", message: "filesystem: /mnt/ws/pipe is refused: it is a fifo; only regular files and directories are accessible" } });
    assert.equal(code(await v.fs({ op: "writeFile", path: "/mnt/ws/pipe", data: "x" })), "E_CAPABILITY_DENIED");
    const stat = await v.fs({ op: "stat", path: "/mnt/ws/pipe" });
    assert.ok(stat.ok && (stat.value as { type: string }).type === "other");
  });

  test("a unix socket is refused", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(v.ws, "sock"), resolve));
    try {
      const read = await v.fs({ op: "readFile", path: "/mnt/ws/sock" });
      assert.equal(read.ok || read.error.message, "filesystem: /mnt/ws/sock is refused: it is a socket; only regular files and directories are accessible");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a symlink to a device outside the volume is refused", async () => {
    symlinkSync("/dev/zero", join(v.ws, "zero"));
    assert.equal(code(await v.fs({ op: "readFile", path: "/mnt/ws/zero" })), "E_CAPABILITY_DENIED");
  });

  const canMknod = process.getuid?.() === 0;
  test("a device node inside the volume is refused by type", { skip: !canMknod && "creating a device node needs root" }, async () => {
    const made = spawnSync("mknod", [join(v.ws, "null"), "c", "1", "3"]);
    assert.equal(made.status, 0, String(made.stderr));
    const read = await v.fs({ op: "readFile", path: "/mnt/ws/null" });
    assert.equal(read.ok || read.error.message, "filesystem: /mnt/ws/null is refused: it is a character device; only regular files and directories are accessible");
    assert.equal(code(await v.fs({ op: "writeFile", path: "/mnt/ws/null", data: "x" })), "E_CAPABILITY_DENIED");
  });
});

describe("the volume root", () => {
  test("rm of the volume root is refused, recursive or not", async () => {
    for (const path of ["/mnt/ws", "/mnt/ws/", "/mnt/ws/."]) {
      const res = await v.fs({ op: "rm", path, recursive: true });
      assert.equal(res.ok || res.error.code, "E_CAPABILITY_DENIED", path);
      assert.match(res.ok ? "" : res.error.message, /the volume root cannot be removed/);
    }
    assert.ok(existsSync(join(v.ws, "sub", "inside.txt")));
  });
});

describe("messages never show host paths", () => {
  test("no refusal or failure message contains the operator's directories", async () => {
    symlinkSync("../ws-evil/canary.txt", join(v.ws, "out"));
    symlinkSync(`${v.ws}-evil`, join(v.ws, "prefixdir"));
    linkSync(join(v.evil, "canary.txt"), join(v.ws, "hard.txt"));
    const ops = [
      { op: "readFile", path: "/mnt/ws/out" },
      { op: "readFile", path: "/mnt/ws/prefixdir/canary.txt" },
      { op: "readFile", path: "/mnt/ws/hard.txt" },
      { op: "readFile", path: "/mnt/ws/missing" },
      { op: "readdir", path: "/mnt/ws/sub/inside.txt" },
      { op: "mkdir", path: "/mnt/ws/sub" },
      { op: "rm", path: "/mnt/ws/sub" },
      { op: "rm", path: "/mnt/ws/nothing/here" },
      { op: "writeFile", path: "/mnt/ws/sub", data: "x" },
      { op: "writeFile", path: "/mnt/ws/missing-dir/x", data: "x" },
      { op: "readFile", path: "/mnt/elsewhere/x" },
    ] as const;
    for (const operation of ops) {
      const res = await v.fs(operation);
      assert.equal(res.ok, false, operation.path);
      const message = res.ok ? "" : res.error.message;
      assert.ok(!message.includes(v.base) && !message.includes("warden-fs-host-"), `${operation.op} ${operation.path}: ${message}`);
      assert.match(message, /^filesystem: /);
    }
    for (const record of v.records) assert.ok(!JSON.stringify(record).includes(v.base));
  });

  test("a volume whose host directory is missing says so without naming it", async () => {
    const gone = volumeFixture({ hostPath: "/nonexistent/warden-fs-host-gone" });
    try {
      const res = await gone.fs({ op: "readdir", path: "/mnt/ws" });
      assert.equal(res.ok || res.error.code, "E_TOOL_FAILED");
      assert.ok(!res.ok && !res.error.message.includes("nonexistent"), res.ok ? "" : res.error.message);
    } finally {
      gone.cleanup();
    }
  });
});
