import assert from "node:assert/strict";
import { test } from "node:test";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { ConnectionGuard, defaultConnectionLimits } from "../../src/mcp/connection-guard.js";

function fakeSocket(address: string): Socket & { destroyed: boolean } {
  const s = new EventEmitter() as unknown as Socket & { destroyed: boolean };
  Object.assign(s, { remoteAddress: address, destroyed: false, destroy: () => ((s as { destroyed: boolean }).destroyed = true) });
  return s;
}

test("ConnectionGuard: past a cap the oldest never-authenticated connection goes first, then an idle one; busy ones stay", () => {
  const g = new ConnectionGuard({ maxTotal: 3, maxPerAddress: 3 });
  const [a, b, c] = [fakeSocket("1.1.1.1"), fakeSocket("1.1.1.1"), fakeSocket("2.2.2.2")];
  for (const s of [a, b, c]) assert.equal(g.admit(s), true);
  g.authenticated(a);
  g.busy(a);
  g.authenticated(c);
  const d = fakeSocket("3.3.3.3");
  assert.equal(g.admit(d), true);
  assert.equal(b.destroyed, true, "the unauthenticated one was closed first");
  g.authenticated(d);
  g.busy(d);
  const e = fakeSocket("4.4.4.4");
  assert.equal(g.admit(e), true);
  assert.equal(c.destroyed, true, "then the idle authenticated one");
  g.authenticated(e);
  g.busy(e);
  const f = fakeSocket("5.5.5.5");
  assert.equal(g.admit(f), false, "every connection busy: the new one is refused");
  assert.equal(a.destroyed, false);
});

test("connection limits follow the open-file limit", () => {
  assert.deepEqual(defaultConnectionLimits(256), { maxTotal: 128, maxPerAddress: 64 });
  assert.deepEqual(defaultConnectionLimits(1_048_576), { maxTotal: 4096, maxPerAddress: 1024 });
});
