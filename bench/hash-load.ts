/**
 * The login storm's CPU and memory work without a server: its own process verifies one argon2id
 * hash (tokenver's parameters) at a fixed rate, on one thread, for a while. Beside the paced
 * control (case 4c) it gives the event-loop delay any Node server has on this machine while the
 * cores hash at the storm's rate: the floor under the storm's verdict. Prints one JSON line.
 *
 * Usage: node --import tsx bench/hash-load.ts <perSecond> <seconds>
 */
import { hashPassword, verifyPassword } from "../src/core/passwords/hashing.js";

const [perSecond = "50", seconds = "5"] = process.argv.slice(2);
const rate = Number(perSecond);
const total = Math.round(rate * Number(seconds));
const hash = await hashPassword("bench-hash-load");

// One verification at a time, as the server's one hashing thread runs them; on a fixed schedule
// (open loop), so a late one is followed at once by the next.
const started = performance.now();
let done = 0;
for (let i = 0; i < total; i++) {
  const wait = started + (i * 1000) / rate - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  if (await verifyPassword(hash, "bench-hash-load")) done++;
}
process.stdout.write(`${JSON.stringify({ attempted: total, ok: done, seconds: (performance.now() - started) / 1000 })}\n`);
