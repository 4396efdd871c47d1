import { isIP } from "node:net";

/**
 * The address a request is counted against (the per-address login throttle) and recorded under
 * (a new session's `ip`), in one canonical form, so that one client cannot appear as many:
 *
 * - an IPv4 address as it is (`7.7.7.7`), and an IPv4-mapped IPv6 address (`::ffff:7.7.7.7`,
 *   what a dual-stack socket reports for an IPv4 client) as that IPv4 address;
 * - an IPv6 address as its /64 (`2001:db8:1:2::/64`): one subscriber, one LAN or one host is
 *   normally given a whole /64 (RFC 6177, RFC 8981 privacy addresses rotate inside it), so counting
 *   single IPv6 addresses would give each client 2^64 fresh counters;
 * - anything that is not an IP address (garbage from `X-Forwarded-For` under trust-proxy, an
 *   address with a port) is ignored: the socket's own address is used instead, so a forged header
 *   cannot mint a fresh counter per request.
 *
 * `candidate` is what the framework says the client is (`request.ip`, `req.ip`: `X-Forwarded-For`
 * under trust-proxy, else the socket's address); `socketAddress` is the peer of the connection.
 * Undefined only when neither is an address (a socket already closed).
 */
export function clientAddress(candidate: string | undefined, socketAddress: string | undefined): string | undefined {
  return canonicalAddress(candidate) ?? canonicalAddress(socketAddress);
}

/** The canonical form above, or undefined for anything that is not an IP address. */
export function canonicalAddress(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const kind = isIP(value);
  // Node's isIP() accepts IPv4 only in its canonical dotted form (no leading zeros, no hex).
  if (kind === 4) return value;
  if (kind !== 6) return undefined;
  const groups = ipv6Groups(value);
  if (groups === undefined) return undefined;
  // ::ffff:0:0/96, IPv4-mapped (RFC 4291 2.5.5.2): the IPv4 client itself.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  return `${formatIpv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** The eight 16-bit groups of an address that isIP() accepted as IPv6 (its zone dropped). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  // A trailing dotted IPv4 part (`::ffff:7.7.7.7`) becomes its two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const bytes = tail.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((bytes[0]! << 8) | bytes[1]!).toString(16)}:${((bytes[2]! << 8) | bytes[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...rest].map((group) =>
    /^[0-9a-f]{1,4}$/.test(group) ? parseInt(group, 16) : NaN,
  );
  return groups.every((g) => !Number.isNaN(g)) ? groups : undefined;
}

/** RFC 5952: lower-case hex without leading zeros, the longest run of two or more zero groups as `::`. */
function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
