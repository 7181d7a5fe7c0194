/**
 * The shared outcome vocabulary (sandboxes/outcome): the output bound every backend applies, and what a
 * stopped call answers. Pure functions, tested directly: a flood far over the bound is also caught by each
 * backend's streaming caps, so only a result just over `outputBytes` shows this bound is there.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { outcomeOf } from "../../../sandboxes/mcp-server/result.js";
import { boundedOutput, failure, outputBytesOf, stoppedOutcome } from "../../../sandboxes/outcome/index.js";
import { WardenError } from "../../../src/errors.js";

describe("boundedOutput", () => {
  test("an output of exactly the limit passes with its UTF-8 JSON size; one byte more is E_OUTPUT_TOO_LARGE", () => {
    const output = { s: "ü".repeat(10) }; // 2 bytes a character in UTF-8
    const bytes = outputBytesOf(output);
    assert.equal(bytes, Buffer.byteLength(JSON.stringify(output), "utf8"));
    assert.deepEqual(boundedOutput("t", output, bytes), { ok: true, output, outputBytes: bytes });
    const over = boundedOutput("t", output, bytes - 1);
    assert.equal(!over.ok && over.error.code, "E_OUTPUT_TOO_LARGE");
  });

  test("a hosted server's result just over its budget (content and structuredContent together) is refused", () => {
    const result = { content: [{ type: "text" as const, text: "x".repeat(5000) }] };
    const outcome = outcomeOf(result, "srv/tool", 4096);
    assert.equal(!outcome.ok && outcome.error.code, "E_OUTPUT_TOO_LARGE");
    const fits = outcomeOf({ content: [{ type: "text", text: "small" }] }, "srv/tool", 4096);
    assert.equal(fits.ok, true);
  });
});

describe("stoppedOutcome", () => {
  test("the stopper's own code survives (kill switch, deadline); anything else is E_CANCELLED", () => {
    const stopped = (reason?: unknown) => {
      const c = new AbortController();
      c.abort(reason);
      return stoppedOutcome(c.signal);
    };
    assert.deepEqual(stopped(new WardenError("E_DISABLED", "kill switch")), failure("E_DISABLED", "kill switch"));
    assert.deepEqual(stopped({ code: "E_TIMEOUT", message: "deadline" }), failure("E_TIMEOUT", "deadline"));
    assert.equal((stopped() as { error: { code: string } }).error.code, "E_CANCELLED");
    assert.equal((stopped({ code: "E_NOT_A_CODE" }) as { error: { code: string } }).error.code, "E_CANCELLED");
  });
});
