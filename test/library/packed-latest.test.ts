// The packed package in a fresh app on the newest Fastify 5.x (see packed-app.ts).
import { packedAppTests } from "./packed-app.js";

packedAppTests({ name: "latest", fastify: "^5" });
