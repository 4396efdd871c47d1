// Unit tests for src/core/webhooks/payload.ts: the body of an event's webhook (Standard Webhooks
// `{type, timestamp, data}`) and the headers of one attempt, whose signatures a receiver checks
// with the standardwebhooks package: one `v1,` signature per configured secret, over the event id,
// the attempt's second and the exact body.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Webhook } from "standardwebhooks";
import { signedHeaders, webhookPayload } from "../../../../src/core/webhooks/payload.js";
import type { EventRow } from "../../../../src/store/queries/events.js";

const ROW: EventRow = {
  id: "0193a1b2-c3d4-7000-8000-0123456789ab",
  type: "logout",
  user_id: "u1",
  session_id: "s1",
  actor: "self",
  ip: "203.0.113.9",
  user_agent: "Firefox",
  at: "2026-12-01T06:30:00.123Z",
  detail: JSON.stringify({ scope: "all" }),
};
const SECRET_A = `whsec_${Buffer.from("a".repeat(32)).toString("base64")}`;
const SECRET_B = `whsec_${Buffer.from("b".repeat(32)).toString("base64")}`;
const NOW = Date.UTC(2026, 11, 1, 6, 30, 5, 999);

describe("webhookPayload", () => {
  test("type, timestamp and the event as GET /events shows it, with the user's token_version", () => {
    assert.deepEqual(JSON.parse(webhookPayload(ROW, 4)), {
      type: "logout",
      timestamp: "2026-12-01T06:30:00.123Z",
      data: {
        id: ROW.id,
        type: "logout",
        user_id: "u1",
        session_id: "s1",
        actor: "self",
        ip: "203.0.113.9",
        user_agent: "Firefox",
        at: "2026-12-01T06:30:00.123Z",
        detail: { scope: "all" },
        token_version: 4,
      },
    });
  });

  test("missing fields are null; no detail is an empty object; no user is a null token_version", () => {
    const bare = { ...ROW, user_id: null, session_id: null, ip: null, user_agent: null, detail: null } as unknown as EventRow;
    const { data } = JSON.parse(webhookPayload(bare, null));
    assert.equal(data.user_id, null);
    assert.equal(data.session_id, null);
    assert.equal(data.ip, null);
    assert.equal(data.user_agent, null);
    assert.deepEqual(data.detail, {});
    assert.equal(data.token_version, null);
    const undefinedFields = {
      ...ROW,
      user_id: undefined,
      session_id: undefined,
      ip: undefined,
      user_agent: undefined,
    } as unknown as EventRow;
    const parsed = JSON.parse(webhookPayload(undefinedFields, 0)).data;
    assert.deepEqual([parsed.user_id, parsed.session_id, parsed.ip, parsed.user_agent], [null, null, null, null]);
  });
});

describe("signedHeaders", () => {
  test("content type, the event id, the attempt's second, and a signature every secret's receiver verifies", () => {
    const body = webhookPayload(ROW, 4);
    const headers = signedHeaders([new Webhook(SECRET_A), new Webhook(SECRET_B)], ROW.id, NOW, body);
    assert.equal(headers["content-type"], "application/json");
    assert.equal(headers["webhook-id"], ROW.id);
    assert.equal(headers["webhook-timestamp"], String(Math.floor(NOW / 1000)));
    const signatures = headers["webhook-signature"]!.split(" ");
    assert.equal(signatures.length, 2);
    for (const s of signatures) assert.match(s, /^v1,[A-Za-z0-9+/]+=*$/);
    for (const secret of [SECRET_A, SECRET_B]) {
      const receiver = new Webhook(secret);
      // standardwebhooks checks the timestamp against its own clock: sign at "now" for verify().
      const fresh = signedHeaders([new Webhook(SECRET_A), new Webhook(SECRET_B)], ROW.id, Date.now(), body);
      assert.deepEqual(receiver.verify(body, fresh), JSON.parse(body));
    }
    assert.equal(signatures[0], new Webhook(SECRET_A).sign(ROW.id, new Date(NOW), body));
    assert.equal(signatures[1], new Webhook(SECRET_B).sign(ROW.id, new Date(NOW), body));
  });

  test("a body changed after signing does not verify", () => {
    const body = webhookPayload(ROW, 4);
    const headers = signedHeaders([new Webhook(SECRET_A)], ROW.id, Date.now(), body);
    assert.throws(() => new Webhook(SECRET_A).verify(body.replace('"token_version":4', '"token_version":5'), headers));
  });
});
