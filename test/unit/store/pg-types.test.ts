// tokenver's PostgreSQL type parsers (store/pg-types.ts), without a database: timestamptz as
// PostgreSQL writes it, in any time zone and precision, to the string isoAt writes; jsonb as its
// text; everything else as pg's defaults, which stay untouched; the Kysely plugin for an
// application's instance; and the cursor instants a comparison in SQL can take (core/clock.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { isIsoInstant, isoAt } from "../../../src/core/clock.js";
import { decodeCursor } from "../../../src/core/sessions/manage.js";
import {
  JSONB_OID,
  PG_TYPES,
  PgResultPlugin,
  TIMESTAMPTZ_OID,
  TimestampFormatError,
  timestamptzToIso,
} from "../../../src/store/pg-types.js";

describe("timestamptz to isoAt's string", () => {
  test("every offset and precision PostgreSQL writes gives the same instant, milliseconds always", () => {
    const cases: [string, string][] = [
      ["2026-01-02 03:04:05.678+00", "2026-01-02T03:04:05.678Z"],
      ["2026-01-02 03:04:05+00", "2026-01-02T03:04:05.000Z"],
      ["2026-01-02 03:04:05.5+00", "2026-01-02T03:04:05.500Z"],
      ["2026-01-02 03:04:05.678999+00", "2026-01-02T03:04:05.678Z"],
      ["2026-01-02 08:34:05.678+05:30", "2026-01-02T03:04:05.678Z"],
      ["2026-01-01 23:04:05.678-04", "2026-01-02T03:04:05.678Z"],
      ["1883-11-18 11:49:21.001-04:56:02", "1883-11-18T16:45:23.001Z"],
      ["1970-01-01 00:00:00+00", "1970-01-01T00:00:00.000Z"],
      ["0001-01-01 00:00:00+00", "0001-01-01T00:00:00.000Z"],
      ["0099-12-31 23:59:59.999+00", "0099-12-31T23:59:59.999Z"],
      ["0001-12-31 00:00:00+00 BC", "0000-12-31T00:00:00.000Z"],
      ["12026-01-02 03:04:05.678+00", "+012026-01-02T03:04:05.678Z"],
    ];
    for (const [text, iso] of cases) assert.equal(timestamptzToIso(text), iso, text);
  });

  test("round trip of what tokenver writes", () => {
    for (const ms of [0, 1, 999, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2038, 0, 19, 3, 14, 8, 1)]) {
      const iso = isoAt(ms);
      const pgText = iso.replace("T", " ").replace("Z", "+00");
      assert.equal(timestamptzToIso(pgText), iso);
    }
  });

  test("text of another form throws (pg fails the query): returned as it was, it would compare wrongly with ISO strings", () => {
    for (const text of ["infinity", "-infinity", "Fri Jan 02 03:04:05.678 2026 UTC", "01/02/2026 03:04:05.678 UTC", ""]) {
      assert.throws(() => timestamptzToIso(text), TimestampFormatError, text);
    }
  });
});

describe("the parsers tokenver passes per pool and per query", () => {
  test("timestamptz and jsonb are tokenver's; other types are pg's defaults; pg's global parsers are not touched", () => {
    const globalBefore = [TIMESTAMPTZ_OID, JSONB_OID, 20, 23, 16].map((oid) => pg.types.getTypeParser(oid));
    const parse = (oid: number) => PG_TYPES.getTypeParser(oid, "text") as (text: string) => unknown;
    assert.equal(parse(TIMESTAMPTZ_OID)("2026-01-02 03:04:05.678+00"), "2026-01-02T03:04:05.678Z");
    assert.equal(parse(JSONB_OID)('{"a": 1, "b": [1, 2]}'), '{"a": 1, "b": [1, 2]}');
    assert.equal(parse(23)("42"), 42);
    assert.equal(parse(16)("t"), true);
    assert.equal(parse(20), pg.types.getTypeParser(20));
    assert.deepEqual(
      [TIMESTAMPTZ_OID, JSONB_OID, 20, 23, 16].map((oid) => pg.types.getTypeParser(oid)),
      globalBefore,
    );
    assert.ok((pg.types.getTypeParser(TIMESTAMPTZ_OID) as (t: string) => unknown)("2026-01-02 03:04:05.678+00") instanceof Date);
  });
});

describe("the result plugin for an application's Kysely instance", () => {
  test("Dates back to isoAt's string, parsed jsonb back to JSON text, everything else as it was", async () => {
    const plugin = new PgResultPlugin();
    const row = {
      id: "u",
      n: 1,
      flag: true,
      none: null,
      at: new Date("2026-01-02T03:04:05.678Z"),
      profile: { b: [1, "x"], a: { c: null } },
      text: "2026-01-02 03:04:05+00",
      // An application's own parser's object (a decimal for numeric, say) is not tokenver's to convert.
      count: { decimal: "12" },
    };
    const result = await plugin.transformResult({ queryId: { queryId: "q" }, result: { rows: [row, { id: "v" }] } } as never);
    assert.deepEqual(result.rows, [{ ...row, at: "2026-01-02T03:04:05.678Z", profile: '{"b":[1,"x"],"a":{"c":null}}' }, { id: "v" }]);
    const untouched = { rows: [{ id: "w", at: "2026-01-02T03:04:05.678Z" }] };
    assert.equal(await plugin.transformResult({ queryId: { queryId: "q" }, result: untouched } as never), untouched);
  });
});

describe("instants a cursor may carry into SQL", () => {
  test("exactly isoAt's shape, of a real day, from year 1", () => {
    assert.ok(isIsoInstant("2026-01-02T03:04:05.678Z"));
    assert.ok(isIsoInstant("0001-01-01T00:00:00.000Z"));
    for (const bad of [
      "2026-02-30T00:00:00.000Z", // Date.parse takes it (March 2); PostgreSQL does not
      "2026-04-31T00:00:00.000Z",
      "2026-13-01T00:00:00.000Z",
      "2026-01-01T24:00:00.000Z",
      "0000-01-01T00:00:00.000Z",
      "2026-01-02T03:04:05Z",
      "2026-01-02 03:04:05.678Z",
      "",
      42,
      null,
    ]) {
      assert.equal(isIsoInstant(bad), false, String(bad));
    }
  });

  test("a session cursor with an impossible day is a validation failure", () => {
    const cursor = Buffer.from(JSON.stringify(["2026-02-30T00:00:00.000Z", "s1"]), "utf8").toString("base64url");
    assert.throws(
      () => decodeCursor(cursor),
      (e: unknown) => (e as { code?: string }).code === "validation_failed",
    );
    const good = Buffer.from(JSON.stringify(["2026-02-28T00:00:00.000Z", "s1"]), "utf8").toString("base64url");
    assert.deepEqual(decodeCursor(good), { created_at: "2026-02-28T00:00:00.000Z", id: "s1" });
  });
});
