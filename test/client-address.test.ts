// Client addresses are canonicalised before they key the per-address login throttle, in the
// built-in server and in both adapters: one client cannot appear as many by the spelling of its
// address (IPv4-mapped IPv6), by the host part of its IPv6 /64, or by a forged X-Forwarded-For
// that is not an address at all (Fastify and Express pass such an entry on as `ip` under
// trust-proxy; it falls back to the socket's address).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import express from "express";
import Fastify from "fastify";
import { createAuth, type Auth } from "../src/create-auth.js";
import tokenverFastify from "../src/http/fastify/plugin.js";
import { problemHandler, tokenver as tokenverExpress } from "../src/http/express/guard.js";
import { buildServer } from "../src/server.js";
import { listenExpress, listenFastify } from "./library/helpers.js";
import { Api, TEST_SECRET, uniqueEmail } from "./support/server.js";

/** Two failures per address, then 429; accounts are never the limit here (each try is a new one). */
const RATE_LIMIT = { addressFailures: 2, accountFailures: 100 };

interface Front {
  api: Api;
  close(): Promise<void>;
}

/** Each front end trusts one proxy hop, over an auth service of its own (fresh counters). */
const FRONTS: Record<string, (auth: Auth) => Promise<Front>> = {
  "built-in server": async (auth) => {
    const server = await listenFastify(await buildServer(auth, { trustProxy: 1 }));
    return { api: new Api(server.url), close: server.close };
  },
  "Fastify plugin": async (auth) => {
    const app = Fastify({ trustProxy: (_address: string, hop: number) => hop < 1 });
    await app.register(tokenverFastify, { auth });
    const server = await listenFastify(app);
    return { api: new Api(server.url), close: server.close };
  },
  "Express guard": async (auth) => {
    const app = express();
    app.set("trust proxy", 1);
    app.use(tokenverExpress({ auth }));
    app.use(problemHandler);
    const server = await listenExpress(app);
    return { api: new Api(server.url), close: server.close };
  },
};

for (const [name, start] of Object.entries(FRONTS)) {
  describe(`client addresses as throttle keys (${name})`, () => {
    let auth: Auth;
    let front: Front;
    before(async () => {
      auth = await createAuth({ secret: TEST_SECRET, databaseUrl: "sqlite::memory:", rateLimit: RATE_LIMIT });
      front = await start(auth);
    });
    after(async () => {
      await front.close();
      await auth.close();
    });

    /** A failed login for a fresh account, as the proxy says `forwarded` (or no header at all). */
    const fail = async (forwarded: string | undefined) => {
      const response = await front.api.request("POST", "/login", {
        body: { email: uniqueEmail(), password: "not the password at all" },
        ...(forwarded === undefined ? {} : { headers: { "x-forwarded-for": forwarded } }),
      });
      return response.status;
    };

    test("7.7.7.7 and ::ffff:7.7.7.7 are one client", async () => {
      assert.equal(await fail("7.7.7.7"), 401);
      assert.equal(await fail("::ffff:7.7.7.7"), 401);
      assert.equal(await fail("7.7.7.7"), 429, "the third failure of 7.7.7.7, under two spellings");
      assert.equal(await fail("0:0:0:0:0:ffff:707:707"), 429, "and a third spelling");
      assert.equal(await fail("7.7.7.8"), 401, "another address is unaffected");
    });

    test("two IPv6 addresses in one /64 share one counter; the next /64 has its own", async () => {
      assert.equal(await fail("2001:db8:1:2::1"), 401);
      assert.equal(await fail("2001:db8:1:2:ffff:ffff:ffff:ffff"), 401);
      assert.equal(await fail("2001:db8:1:2:abcd:0:0:9"), 429, "a third address of the same /64");
      assert.equal(await fail("2001:db8:1:3::1"), 401, "another /64 is unaffected");
    });

    test("an X-Forwarded-For that is not an address counts against the socket's address", async () => {
      // The socket's address is the test's own loopback (127.0.0.1), as for a request with no header.
      assert.equal(await fail("garbage"), 401);
      assert.equal(await fail(`not-an-address-${Math.random()}`), 401);
      assert.equal(await fail(`also garbage ${Math.random()}`), 429, "no fresh counter per forged value");
      assert.equal(await fail("127.0.0.1:4444"), 429, "an address with a port is no address either");
      assert.equal(await fail(undefined), 429, "the same counter as a request with no header");
    });
  });
}
