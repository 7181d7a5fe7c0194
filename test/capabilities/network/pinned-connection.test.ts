import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import type { AddressInfo, Socket } from "node:net";
import { WardenError } from "../../../src/errors.js";
import { openPinnedConnection } from "../../../src/capabilities/network/pinned-connection.js";

// A raw TCP listener: counts connections and every byte a client sends.
let server: Server;
let port = 0;
let received = 0;
let connections = 0;
const accepted: Socket[] = [];

before(async () => {
  server = createServer((socket) => {
    connections++;
    accepted.push(socket);
    socket.on("data", (d) => (received += d.length));
    socket.on("error", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
});
after(() => {
  for (const socket of accepted) socket.destroy();
  server.close();
});

const signal = () => new AbortController().signal;

async function refusedAfterConnect(promise: Promise<Socket>, message: RegExp): Promise<void> {
  // Should the check be missing, close the socket it handed out so the failure is quick.
  await assert.rejects(promise.then((socket) => void socket.destroy()), (err: unknown) => {
    assert.ok(err instanceof WardenError);
    assert.equal(err.code, "E_CAPABILITY_DENIED");
    assert.match(err.message, message);
    return true;
  });
}

describe("defense in depth: the connected address is verified before anything is sent", () => {
  test("an IP literal connection that lands outside the checked addresses is closed unused", async () => {
    // IP literals never go through the pinned lookup; only the remoteAddress check catches this.
    const before = connections;
    await refusedAfterConnect(
      openPinnedConnection({ scheme: "http", host: "127.0.0.1", ip: "127.0.0.1", port, addresses: ["127.0.0.2"], allowPrivate: true }, signal()),
      /reached 127\.0\.0\.1, which is not the address that was checked/,
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(connections, before + 1, "the TCP connect happened");
    assert.equal(received, 0, "but not one byte was sent");
  });

  test("a connected address that the policy refuses is closed unless allowPrivate", async () => {
    await refusedAfterConnect(
      openPinnedConnection({ scheme: "http", host: "api.example.test", ip: null, port, addresses: ["127.0.0.1"], allowPrivate: false }, signal()),
      /reached 127\.0\.0\.1 \(loopback\), which is refused/,
    );
    const ok = await openPinnedConnection({ scheme: "http", host: "api.example.test", ip: null, port, addresses: ["127.0.0.1"], allowPrivate: true }, signal());
    assert.equal(ok.remoteAddress, "127.0.0.1");
    ok.destroy();
  });
});
