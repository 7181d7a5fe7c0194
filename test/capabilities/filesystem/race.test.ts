import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { afterEach, describe, test } from "node:test";
import { raceAgainstSwaps } from "./swap-race.js";
import { volumeFixture, type VolumeFixture } from "./volume-fixture.js";

let v: VolumeFixture | undefined;
afterEach(() => v?.cleanup());

describe("time-of-check/time-of-use", () => {
  test("symlinks swapped into the path during reads and writes never let them escape the volume", async () => {
    v = volumeFixture();
    const outcome = await raceAgainstSwaps(v, v.fs, 1500);
    assert.equal(outcome.leaks, 0, "no read returned the outside canary");
    assert.deepEqual(readdirSync(v.evil), ["canary.txt"], "no file or directory appeared outside");
    assert.ok(v.outsideUntouched(), "the outside canary is unchanged");
    // The race was real: both states of the swapped path were seen.
    assert.ok(outcome.swaps > 0 && outcome.readsOk > 0 && outcome.readsRefused > 0, JSON.stringify(outcome));
  });
});
