// A notes API on Express: everything after the guard needs a token; public routes go on guard.public.
// Run: npm run example:express (PORT, default 3002; TOKENVER_DATABASE_URL, default in memory).
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import express from "express";
import { AuthError, createAuth, Type, type AuthOptions } from "../../src/index.js"; // in your app: "tokenver"
import { problemHandler, tokenver } from "../../src/http/express/guard.js"; // in your app: "tokenver/express"

interface Note {
  id: string;
  text: string;
  created_at: string;
}

export async function buildApp(options: Omit<AuthOptions, "userFields"> = {}) {
  const auth = await createAuth({
    databaseUrl: process.env.TOKENVER_DATABASE_URL ?? "sqlite::memory:",
    secret: process.env.TOKENVER_SECRET,
    // A custom profile field: validated on register and PATCH /auth/profile, typed below.
    userFields: { display_name: Type.String({ minLength: 1, maxLength: 80 }) },
    ...options,
  });
  const app = express();
  const guard = tokenver({ auth, routes: { prefix: "/auth" } });
  guard.public.get("/health", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.use(guard); // every route below requires a valid, unrevoked access token
  app.use(express.json());

  const notes = new Map<string, Note[]>(); // each user's notes, by user id
  const notesOf = (userId: string) => notes.get(userId) ?? notes.set(userId, []).get(userId)!;

  app.post("/notes", (req, res) => {
    const text: unknown = req.body?.text;
    if (typeof text !== "string" || text.length === 0 || text.length > 10_000) {
      throw new AuthError("validation_failed", "text must be a non-empty string.", { errors: [{ field: "text", message: "must be a non-empty string" }] });
    }
    const note = { id: randomUUID(), text, created_at: new Date().toISOString() };
    notesOf(req.user.userId).push(note);
    res.status(201).json(note);
  });

  app.get("/notes", (req, res) => {
    res.json({ notes: notesOf(req.user.userId) });
  });

  app.get("/notes/:id", (req, res) => {
    const note = notesOf(req.user.userId).find((n) => n.id === req.params.id);
    if (note === undefined) throw new AuthError("not_found", "No such note.");
    res.json(note);
  });

  // The user row (with custom fields) is read only where a route asks for it.
  app.get("/me", async (req, res) => {
    const user = await auth.getUser(req.user);
    res.json({ id: user.id, email: user.email, display_name: user.display_name ?? null });
  });

  app.use(problemHandler); // errors (yours and tokenver's) as problem+json
  return { app, auth };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { app, auth } = await buildApp();
  const port = Number(process.env.PORT ?? 3002);
  const host = process.env.HOST ?? "127.0.0.1";
  const server = app.listen(port, host, () => {
    const address = server.address();
    const actual = typeof address === "object" && address !== null ? address.port : port;
    console.log(`notes (express) listening on http://${host}:${actual}`);
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => server.close(() => void auth.close()));
}
