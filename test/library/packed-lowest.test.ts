// The packed package in a fresh app on the lowest Fastify 5 of the peer range (see packed-app.ts).
import { LOWEST_FASTIFY, packedAppTests } from "./packed-app.js";

packedAppTests({ name: "lowest", fastify: LOWEST_FASTIFY });
