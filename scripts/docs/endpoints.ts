/**
 * Writes docs/endpoints.md, the endpoint reference, from the endpoint table (scripts/docs/endpoint-reference.ts).
 * Run: `npm run docs:endpoints` after changing a row; test/endpoint-reference.test.ts fails until it is run.
 */
import { writeFileSync } from "node:fs";
import { ENDPOINTS } from "../../src/http/endpoints.js";
import { endpointReference } from "./endpoint-reference.js";

const target = new URL("../../docs/endpoints.md", import.meta.url);
writeFileSync(target, endpointReference());
console.log(`wrote docs/endpoints.md (${ENDPOINTS.length} endpoints)`);
