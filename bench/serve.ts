/** The end of every tokenver server process of the bench: listen, then close the app and the service on SIGTERM or SIGINT. */
import type { FastifyInstance } from "fastify";
import type { Auth } from "../src/create-auth.js";

export async function serveUntilSignal(app: FastifyInstance, auth: Auth, where: { port: number; host: string }): Promise<void> {
  await app.listen(where);
  const stop = async () => {
    await app.close().catch(() => {});
    await auth.close().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}
