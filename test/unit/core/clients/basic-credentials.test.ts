// Unit tests for the HTTP Basic parsing of introspection clients (src/core/clients/introspect.ts):
// RFC 7617, then RFC 6749 2.3.1 form-decoding of the id and the secret.
import assert from "node:assert/strict";
import { test } from "node:test";
import { basicCredentials } from "../../../../src/core/clients/introspect.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

test("id and secret, form-decoded after Basic decoding; the first raw colon splits", () => {
  assert.deepEqual(basicCredentials(`Basic ${b64("tvc_a:s3cr3t")}`), { id: "tvc_a", secret: "s3cr3t" });
  assert.deepEqual(basicCredentials(`basic  ${b64("a%3Ab:c%2Bd+e%25")}`), { id: "a:b", secret: "c+d e%" });
  assert.deepEqual(basicCredentials(`Basic ${b64("id:se:cret")}`), { id: "id", secret: "se:cret" });
});

test("anything else is no credentials", () => {
  for (const header of [
    undefined,
    "",
    "Bearer x",
    "Basic",
    "Basic !!!",
    `Basic ${b64("nocolon")}`,
    `Basic ${b64(":secret")}`,
    `Basic ${b64("id:")}`,
    `Basic ${b64("id:%E0%A4%A")}`,
    `Basic ${b64(`${"i".repeat(65)}:s`)}`,
  ]) {
    assert.equal(basicCredentials(header), undefined, String(header));
  }
});
