// Unit tests for src/http/client-address.ts: one canonical address per client (IPv4 as it is,
// IPv4-mapped IPv6 as the IPv4, IPv6 as its /64), anything else ignored for the socket's address.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { canonicalAddress, clientAddress } from "../../../src/http/client-address.js";

describe("canonicalAddress", () => {
  test("IPv4 addresses are kept as they are", () => {
    for (const address of ["7.7.7.7", "127.0.0.1", "0.0.0.0", "255.255.255.255", "10.0.0.7"]) {
      assert.equal(canonicalAddress(address), address);
    }
  });

  test("IPv4-mapped IPv6 addresses become the IPv4 address, in every spelling", () => {
    for (const mapped of [
      "::ffff:7.7.7.7",
      "::FFFF:7.7.7.7",
      "::ffff:707:707",
      "0:0:0:0:0:ffff:7.7.7.7",
      "0000:0000:0000:0000:0000:ffff:0707:0707",
    ]) {
      assert.equal(canonicalAddress(mapped), "7.7.7.7", mapped);
    }
    assert.equal(canonicalAddress("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(canonicalAddress("::ffff:ffff:ffff"), "255.255.255.255");
  });

  test("IPv6 addresses become their /64, written as RFC 5952 says", () => {
    const cases: [string, string][] = [
      ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
      ["2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
      ["2001:0DB8:0001:0002:abcd:0:0:9", "2001:db8:1:2::/64"],
      ["2001:db8:1:2:3:4:5.6.7.8", "2001:db8:1:2::/64"],
      ["2001:db8::1", "2001:db8::/64"],
      ["2001:0:0:1::5", "2001:0:0:1::/64"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4::/64"],
      ["::1", "::/64"],
      ["::", "::/64"],
      ["fe80::1%eth0", "fe80::/64"],
      // Not IPv4-mapped: other ::/96 forms stay IPv6.
      ["::7.7.7.7", "::/64"],
      ["64:ff9b::7.7.7.7", "64:ff9b::/64"],
      ["::ffff:0:7.7.7.7", "::/64"],
    ];
    for (const [address, expected] of cases) assert.equal(canonicalAddress(address), expected, address);
  });

  test("two addresses in one /64 are one key; the next /64 is another", () => {
    assert.equal(canonicalAddress("2001:db8:1:2::1"), canonicalAddress("2001:db8:1:2:dead:beef:0:1"));
    assert.notEqual(canonicalAddress("2001:db8:1:2::1"), canonicalAddress("2001:db8:1:3::1"));
  });

  test("anything that is not an IP address is undefined", () => {
    for (const garbage of [
      "garbage",
      "unknown",
      "",
      " 7.7.7.7",
      "7.7.7.7 ",
      "7.7.7.7:80",
      "[::1]",
      "[::1]:80",
      "07.7.7.7",
      "7.7.7",
      "0x7.7.7.7",
      "1::2::3",
      "2001:db8::/64",
      "fe80::1%",
      "7.7.7.7, 8.8.8.8",
    ]) {
      assert.equal(canonicalAddress(garbage), undefined, JSON.stringify(garbage));
    }
    for (const notAString of [undefined, null, 7, {}, ["7.7.7.7"]]) assert.equal(canonicalAddress(notAString), undefined);
  });
});

describe("clientAddress", () => {
  test("the candidate when it is an address, canonicalised", () => {
    assert.equal(clientAddress("7.7.7.7", "10.0.0.1"), "7.7.7.7");
    assert.equal(clientAddress("::ffff:7.7.7.7", "10.0.0.1"), "7.7.7.7");
    assert.equal(clientAddress("2001:db8:1:2::9", "10.0.0.1"), "2001:db8:1:2::/64");
  });

  test("otherwise the socket's address, canonicalised: garbage mints no key of its own", () => {
    assert.equal(clientAddress("garbage", "10.0.0.1"), "10.0.0.1");
    assert.equal(clientAddress("1.2.3.4:5", "::ffff:10.0.0.1"), "10.0.0.1");
    assert.equal(clientAddress(undefined, "2001:db8:1:2::9"), "2001:db8:1:2::/64");
    assert.equal(clientAddress("garbage", undefined), undefined);
    assert.equal(clientAddress(undefined, undefined), undefined);
  });
});
