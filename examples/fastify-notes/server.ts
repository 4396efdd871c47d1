// A notes API on Fastify: every route needs a token unless it says `public: true`.
// Run: npm run example:fastify (PORT, default 3001; TOKENVER_DATABASE_URL, default in memory).
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import { AuthError, createAuth, Type, type AuthOptions } from "../../src/index.js"; // in your app: "tokenver"
import tokenver, { problemErrorHandler } from "../../src/http/fastify/plugin.js"; // in your app: "tokenver/fastify"

interface Note {
  id: string;
  text: string;
  created_at: string;
}

const NoteBody = Type.Object({ text: Type.String({ minLength: 1, maxLength: 10_000 }) });

export async function buildApp(options: Omit<AuthOptions, "userFields"> = {}) {
  const auth = await createAuth({
    databaseUrl: process.env.TOKENVER_DATABASE_URL ?? "sqlite::memory:",
    secret: process.env.TOKENVER_SECRET,
    // A custom profile field: validated on register and PATCH /auth/profile, typed below.
    userFields: { display_name: Type.String({ minLength: 1, maxLength: 80 }) },
    ...options,
  });
  const app = Fastify();
  app.setErrorHandler(problemErrorHandler); // the app's own errors as problem+json too
  app.addHook("onClose", () => auth.close());
  await app.register(tokenver, { auth, routes: { prefix: "/auth" } });

  const notes = new Map<string, Note[]>(); // each user's notes, by user id
  const notesOf = (userId: string) => notes.get(userId) ?? notes.set(userId, []).get(userId)!;

  app.get("/health", { config: { public: true } }, async () => ({ status: "ok" }));

  app.post<{ Body: { text: string } }>("/notes", { schema: { body: NoteBody } }, async (request, reply) => {
    const note = { id: randomUUID(), text: request.body.text, created_at: new Date().toISOString() };
    notesOf(request.user.userId).push(note);
    return reply.code(201).send(note);
  });

  app.get("/notes", async (request) => ({ notes: notesOf(request.user.userId) }));

  app.get<{ Params: { id: string } }>("/notes/:id", async (request) => {
    const note = notesOf(request.user.userId).find((n) => n.id === request.params.id);
    if (note === undefined) throw new AuthError("not_found", "No such note.");
    return note;
  });

  // The user row (with custom fields) is read only where a route asks for it.
  app.get("/me", async (request) => {
    const user = await auth.getUser(request.user);
    return { id: user.id, email: user.email, display_name: user.display_name ?? null };
  });

  return { app, auth };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { app } = await buildApp();
  const address = await app.listen({ port: Number(process.env.PORT ?? 3001), host: process.env.HOST ?? "127.0.0.1" });
  console.log(`notes (fastify) listening on ${address}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void app.close());
}
