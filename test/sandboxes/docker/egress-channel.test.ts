/**
 * warden's side of the control channel to the egress proxy container, without Docker: Docker's stream
 * framing, acks in order after the records written before them, and fail-closed on a broken protocol,
 * a missing ack or a dead container.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CONTROL_LINE_MAX, EgressChannel } from "../../../sandboxes/docker/egress-channel.js";
import type { EgressRecord } from "../../../src/capabilities/types.js";

/** One Docker attach frame (stream 1 = stdout, 2 = stderr). */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function channel(ackTimeoutMs = 2000) {
  const written: Array<{ op: string; seq: number }> = [];
  const egress: Array<{ ip: string; callId: string; record: EgressRecord }> = [];
  const broken: string[] = [];
  const stderr: string[] = [];
  const ch = new EgressChannel({
    ackTimeoutMs,
    write: (line) => void written.push(JSON.parse(line) as { op: string; seq: number }),
    onReady: () => {},
    onEgress: (ip, callId, record) => void egress.push({ ip, callId, record }),
    onStderr: (line) => void stderr.push(line),
    onBroken: (reason) => void broken.push(reason),
  });
  return { ch, written, egress, broken, stderr };
}

const record: EgressRecord = { host: "api.example.com", port: 443, method: "CONNECT", status: 200, bytes: 10 };

describe("egress control channel", () => {
  test("an unbind resolves only after its ack, and the records written before the ack were delivered first", async () => {
    const { ch, written, egress } = channel();
    let done = false;
    const unbind = ch.command({ op: "unbind", ip: "10.0.0.5" }).then(() => (done = true));
    assert.deepEqual(written.map((w) => w.op), ["unbind"]);
    const line = (o: unknown) => `${JSON.stringify(o)}\n`;
    // One record and the ack in one chunk, split across frames at an odd place: order is what counts.
    const bytes = Buffer.concat([frame(1, line({ op: "egress", ip: "10.0.0.5", callId: "c1", record })), frame(1, line({ op: "unbound", seq: written[0]!.seq }))]);
    ch.push(bytes.subarray(0, 13));
    await Promise.resolve();
    assert.equal(done, false);
    ch.push(bytes.subarray(13));
    await unbind;
    assert.deepEqual(egress, [{ ip: "10.0.0.5", callId: "c1", record }]);
  });

  test("stderr lines are logs, never control lines", () => {
    const { ch, egress, broken, stderr } = channel();
    ch.push(frame(2, `${JSON.stringify({ op: "egress", ip: "1.2.3.4", callId: "x", record })}\nplain log\n`));
    assert.deepEqual(egress, []);
    assert.deepEqual(broken, []);
    assert.equal(stderr.length, 2);
  });

  test("a line outside the protocol, an ack never asked for, or an oversized line breaks the channel: waiting commands fail closed", async () => {
    for (const bad of [
      "not json\n",
      `${JSON.stringify({ op: "egress", ip: "1.2.3.4", callId: "x", record: { ...record, extra: 1 } })}\n`,
      `${JSON.stringify({ op: "unbound", seq: 99 })}\n`,
      "x".repeat(CONTROL_LINE_MAX + 10),
    ]) {
      const { ch, broken } = channel();
      const pending = ch.command({ op: "sync" });
      ch.push(frame(1, bad));
      assert.equal(broken.length, 1, bad.slice(0, 40));
      await assert.rejects(pending, (err: { code?: string }) => err.code === "E_SANDBOX_UNAVAILABLE");
      await assert.rejects(ch.command({ op: "sync" }), (err: { code?: string }) => err.code === "E_SANDBOX_UNAVAILABLE");
    }
  });

  test("an ack that does not come in time fails the command closed and breaks the channel", async () => {
    const { ch, broken } = channel(50);
    await assert.rejects(ch.command({ op: "unbind", ip: "10.0.0.5" }), (err: { code?: string; message?: string }) => err.code === "E_SANDBOX_UNAVAILABLE" && /acknowledge/.test(err.message ?? ""));
    assert.equal(broken.length, 1);
  });

  test("the container's end fails every waiting command closed", async () => {
    const { ch } = channel();
    const a = ch.command({ op: "bind", ip: "10.0.0.5", callId: "c", tool: "t", grants: [] });
    const b = ch.command({ op: "sync" });
    ch.break("its container exited");
    await assert.rejects(a, /container exited/);
    await assert.rejects(b, /container exited/);
  });
});
