import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { buildApp as buildFastifyNotes } from "../../examples/fastify-notes/server.js";
import { buildApp as buildExpressNotes } from "../../examples/express-notes/server.js";
import { Api, TEST_SECRET, uniqueEmail } from "../support/server.js";
import { PASSWORD, listenExpress, listenFastify } from "./helpers.js";

/** Each example, started on a loopback port through its own build function. */
const examples: Array<{ name: string; script: string; start(): Promise<{ url: string; close(): Promise<void> }> }> = [
  {
    name: "fastify-notes",
    script: "example:fastify",
    start: async () => {
      const { app } = await buildFastifyNotes({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
      return listenFastify(app); // closing the app closes its auth (onClose hook)
    },
  },
  {
    name: "express-notes",
    script: "example:express",
    start: async () => {
      const { app, auth } = await buildExpressNotes({ databaseUrl: "sqlite::memory:", secret: TEST_SECRET });
      const listening = await listenExpress(app);
      return { url: listening.url, close: async () => (await listening.close(), await auth.close()) };
    },
  },
];

for (const example of examples) {
  describe(`examples/${example.name}`, () => {
    let url: string;
    let close: () => Promise<void>;
    let auth: Api;
    let notes: Api;
    before(async () => {
      ({ url, close } = await example.start());
      auth = new Api(`${url}/auth`);
      notes = new Api(url);
    });
    after(() => close());

    test("register, create a note, list notes, read it; /me carries the custom field", async () => {
      const user = await auth.register(uniqueEmail(), PASSWORD, { display_name: "Ann" });
      const created = await notes.post("/notes", { text: "buy milk" }, user.access);
      assert.equal(created.status, 201);
      const list = await notes.get("/notes", user.access);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.notes.map((n: { text: string }) => n.text),
        ["buy milk"],
      );
      assert.equal((await notes.get(`/notes/${created.body.id}`, user.access)).body.text, "buy milk");
      const me = await notes.get("/me", user.access);
      assert.equal(me.status, 200);
      assert.equal(me.body.display_name, "Ann");
    });

    test("notes need a token; health does not; a bad note is 400", async () => {
      assert.equal((await notes.get("/notes")).body.code, "token_missing");
      assert.equal((await notes.get("/health")).status, 200);
      const user = await auth.register(uniqueEmail(), PASSWORD, { display_name: "Bo" });
      const bad = await notes.post("/notes", { text: "" }, user.access);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, "validation_failed");
    });

    test("a bad custom field is refused at registration", async () => {
      const response = await auth.post("/register", { email: uniqueEmail(), password: PASSWORD, display_name: 42 });
      assert.equal(response.status, 400);
      assert.equal(response.body.code, "validation_failed");
    });

    test("another user cannot read someone's notes", async () => {
      const ann = await auth.register(uniqueEmail(), PASSWORD, { display_name: "Ann" });
      const eve = await auth.register(uniqueEmail(), PASSWORD, { display_name: "Eve" });
      const note = await notes.post("/notes", { text: "private" }, ann.access);
      const read = await notes.get(`/notes/${note.body.id}`, eve.access);
      assert.equal(read.status, 404);
      assert.equal(read.body.code, "not_found");
      assert.deepEqual((await notes.get("/notes", eve.access)).body.notes, []);
    });

    test("logout on one device makes the notes unreachable with the old token on every device", async () => {
      const phone = await auth.register(uniqueEmail(), PASSWORD, { display_name: "Cy" });
      const laptop = await auth.login(phone.email, phone.password);
      const note = await notes.post("/notes", { text: "secret plan" }, laptop.access);
      assert.equal(note.status, 201);
      assert.equal((await auth.post("/logout", undefined, phone.access)).status, 204);
      for (const token of [phone.access, laptop.access]) {
        for (const path of ["/notes", `/notes/${note.body.id}`]) {
          const response = await notes.get(path, token);
          assert.equal(response.status, 401, path);
          assert.equal(response.body.code, "token_revoked");
        }
      }
      // A new login sees the notes again.
      const again = await auth.login(phone.email, phone.password);
      assert.deepEqual(
        (await notes.get("/notes", again.access)).body.notes.map((n: { text: string }) => n.text),
        ["secret plan"],
      );
    });
  });
}

describe("the examples' npm commands start a server", () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill("SIGTERM");
  });

  for (const example of examples) {
    test(`npm run ${example.script}`, async () => {
      // Same command as the package.json script, on a free port.
      const path = `examples/${example.name}/server.ts`;
      const child = spawn(process.execPath, ["--import", "tsx", path], {
        env: { ...process.env, PORT: "0", TOKENVER_DATABASE_URL: "sqlite::memory:", TOKENVER_SECRET: TEST_SECRET },
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      const url = await listeningUrl(child);
      const health = await new Api(url).get("/health");
      assert.equal(health.status, 200);
      child.kill("SIGTERM");
      const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
      assert.ok(code === 0 || signal === "SIGTERM", `exit ${code} ${signal}`);
    });
  }
});

/** The URL from the example's "listening on http://..." line. */
async function listeningUrl(child: ChildProcess): Promise<string> {
  let output = "";
  for await (const chunk of child.stdout!) {
    output += String(chunk);
    const match = /listening on (http:\/\/[^\s]+)/.exec(output);
    if (match) return match[1]!;
  }
  throw new Error(`the example exited without listening: ${output}`);
}
