import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { describe, test } from "node:test";
import { refusedAddressReason } from "../../../src/capabilities/network/index.js";
import { addressRefusal } from "../../../src/capabilities/network/address-policy.js";

const REFUSED: [string, RegExp][] = [
  ["127.0.0.1", /^loopback$/],
  ["127.255.0.9", /^loopback$/],
  ["::1", /^loopback$/],
  ["10.1.2.3", /^private$/],
  ["172.16.0.1", /^private$/],
  ["172.31.255.255", /^private$/],
  ["192.168.1.1", /^private$/],
  ["169.254.169.254", /^link-local \(cloud metadata\)$/],
  ["169.254.0.1", /link-local/],
  ["fe80::1", /^link-local$/],
  ["fe80::1%eth0", /^link-local$/],
  ["100.64.0.1", /^CGNAT$/],
  ["100.127.255.254", /^CGNAT$/],
  ["fc00::1", /^unique-local$/],
  ["fd12:3456::1", /^unique-local$/],
  ["224.0.0.1", /^multicast$/],
  ["239.255.255.250", /^multicast$/],
  ["ff02::1", /^multicast$/],
  ["0.0.0.0", /^unspecified$/],
  ["0.1.2.3", /^unspecified$/],
  ["::", /^unspecified$/],
  ["255.255.255.255", /^broadcast$/],
  ["240.0.0.1", /^reserved$/],
  ["192.0.2.1", /documentation/],
  ["198.51.100.7", /documentation/],
  ["203.0.113.9", /documentation/],
  ["198.18.0.1", /benchmarking/],
  ["2001:db8::1", /documentation/],
  ["3fff::1", /documentation/],
  ["100::1", /discard/],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", /Teredo/],
  ["2002:7f00:1::1", /6to4/],
  ["fec0::1", /site-local/],
  ["4000::1", /not global unicast/],
  ["::ffff:127.0.0.1", /^loopback via IPv4-mapped 127\.0\.0\.1$/],
  ["::ffff:169.254.169.254", /^link-local \(cloud metadata\) via IPv4-mapped/],
  ["::ffff:a9fe:a9fe", /^link-local \(cloud metadata\) via IPv4-mapped 169\.254\.169\.254$/],
  ["::ffff:10.0.0.1", /^private via IPv4-mapped/],
  ["::169.254.169.254", /link-local .*IPv4-compatible/],
  ["::7f00:1", /loopback via IPv4-compatible/],
  ["::8.8.8.8", /IPv4-compatible/],
  ["64:ff9b::a9fe:a9fe", /^link-local \(cloud metadata\) via NAT64 169\.254\.169\.254$/],
  ["64:ff9b::127.0.0.1", /loopback via NAT64/],
  ["64:ff9b:1::1", /local-use NAT64/],
  ["not-an-ip", /not an IP address/],
  ["", /not an IP address/],
];

const PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808"];

describe("address policy", () => {
  for (const [address, reason] of REFUSED) {
    test(`${address || "(empty)"} is refused`, () => {
      const got = refusedAddressReason(address);
      assert.ok(got !== null, `${address} must be refused`);
      assert.match(got, reason);
    });
  }

  for (const address of PUBLIC) {
    test(`${address} is public unicast and passes`, () => {
      assert.equal(refusedAddressReason(address), null);
    });
  }

  test("this host's own interface addresses are refused even when public", () => {
    const own = new Set(["8.8.8.8", "2606:4700:0:0:0:0:0:1"]);
    assert.equal(addressRefusal("8.8.8.8", own), "this host's own address");
    assert.equal(addressRefusal("2606:4700::1", own), "this host's own address");
    assert.match(addressRefusal("::ffff:8.8.8.8", own) ?? "", /this host's own address via IPv4-mapped/);
    assert.equal(addressRefusal("8.8.4.4", own), null);
  });

  test("every address of this machine's interfaces is refused", () => {
    // Whatever this machine has (CI runners differ): none of it is a legitimate egress target.
    for (const address of interfaceAddresses()) assert.notEqual(refusedAddressReason(address), null, address);
  });
});

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
}
