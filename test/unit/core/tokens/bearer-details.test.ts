// Unit tests for src/core/tokens/bearer.ts (parseBearer), beside bearer.test.ts: the detail each
// refusal gives (it is the problem document's `detail`, so a client and a log can tell the cases
// apart), and no credentials at all in the HTTP adapters' mode (`onlyBearer`): no header, or an
// empty one, is `token_missing` there too, never the `token_invalid` of another scheme (docs/api.md
// section 6). Stryker's survivors #283 (the empty-string check dropped: an empty header answered
// "Only the Bearer scheme is accepted.") and #294 (the malformed token's detail emptied).
import assert from "node:assert/strict";
import { test } from "node:test";
import { AuthError } from "../../../../src/core/errors.js";
import { parseBearer } from "../../../../src/core/tokens/bearer.js";

function refusal(header: string | null | undefined, onlyBearer: boolean): AuthError {
  try {
    parseBearer(header, onlyBearer);
  } catch (error) {
    assert.ok(error instanceof AuthError, String(error));
    return error;
  }
  assert.fail(`${JSON.stringify(header)} was accepted`);
}

test("onlyBearer: an absent or empty Authorization header is token_missing, with no token presented", () => {
  for (const header of [undefined, null, ""]) {
    const error = refusal(header, true);
    assert.equal(error.code, "token_missing", JSON.stringify(header));
    assert.equal(error.tokenPresented, false);
    assert.equal(error.message, "A bearer token is required.");
  }
});

test("each refusal's detail", () => {
  assert.equal(refusal("Bearer a b", false).message, "The bearer token is malformed.");
  assert.equal(refusal("Bearer a b", true).message, "The bearer token is malformed.");
  assert.equal(refusal("Basic abc", true).message, "Only the Bearer scheme is accepted.");
  assert.equal(refusal("Basic abc", false).message, "A bearer token is required.");
  assert.equal(refusal("", false).message, "A bearer token is required.");
});
