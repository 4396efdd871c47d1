// createAuth refuses what is not an option (the settings table knows every one), naming it,
// rather than silently using a default where the application meant something else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createAuth, OptionError, type AuthOptions } from "../../src/index.js";
import { SETTINGS } from "../../src/settings/table.js";

const unknown = (options: Record<string, unknown>) => createAuth(options as AuthOptions);

test("an unknown option is refused by name, with the option it was probably meant to be", async () => {
  await assert.rejects(unknown({ databseUrl: "sqlite::memory:" }), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.equal(error.option, "databseUrl");
    assert.match(error.message, /is not an option of createAuth\(\); did you mean databaseUrl\?/);
    return true;
  });
  await assert.rejects(unknown({ tableNamespace: "x" }), { option: "tableNamespace", message: /is not an option of createAuth\(\)$/ });
});

test("an unknown key inside a group option is refused by its dotted name", async () => {
  await assert.rejects(unknown({ rateLimit: { acountFailures: 3 } }), {
    option: "rateLimit.acountFailures",
    message: /did you mean accountFailures\?/,
  });
});

test("every option of the settings table is accepted (an undefined value is as good as unset)", async () => {
  const options = Object.fromEntries(
    SETTINGS.flatMap((s) => ("option" in s && s.option !== undefined ? [[s.option.split(".")[0]!, undefined]] : [])),
  );
  const auth = await unknown({ ...options, databaseUrl: "sqlite::memory:", secret: "a-test-secret-that-is-at-least-32-bytes-long" });
  await auth.close();
});

test("the plugin's options mode refuses them too, at registration", async () => {
  const { default: Fastify } = await import("fastify");
  const { default: tokenver } = await import("../../src/http/fastify/plugin.js");
  const app = Fastify();
  await assert.rejects(
    async () => {
      await app.register(tokenver, { options: { databaseUrl: "sqlite::memory:", acessTtl: 60 } as AuthOptions });
      await app.ready();
    },
    { option: "acessTtl", message: /did you mean accessTtl\?/ },
  );
  await app.close();
});
