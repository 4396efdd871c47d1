import { endpoint, type AnyEndpoint } from "../endpoint.js";
import * as S from "../schemas.js";
import * as wire from "../wire.js";
import * as E from "./events-schemas.js";

/** Security events (docs/api.md section 10): the caller's own. */
export const EVENT_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "GET",
    path: "/events",
    access: "user",
    tags: ["events"],
    summary: "The caller's recent security activity",
    description:
      "The caller's own last 50 security events (sign-ins, failed sign-ins, logouts, revoked sessions, password changes), newest first.",
    status: 200,
    response: E.OwnEvents,
    errors: S.problems(401, 503),
    handler: async ({ auth, principal }) => ({ events: (await auth.listOwnEvents(principal)).map(wire.eventView) }),
  }),
];

/** Every account's events, for administrators (the role is read from the database on each call). */
export const ADMIN_EVENT_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "GET",
    path: "/admin/events",
    access: "admin",
    tags: ["admin"],
    summary: "Security events of every account",
    description: "Newest first, 50 a page, filtered by `user_id` and `type`; pass `next_cursor` back as `cursor` for the next page.",
    query: E.AdminEventsQuery,
    status: 200,
    response: E.EventPage,
    // A caller who is not an admin gets `403 forbidden` (runEndpoint), as on every admin row.
    errors: S.problems(400, 401, [403, ["forbidden"]], 503),
    handler: async ({ auth, query }) => wire.eventPageView(await auth.listEvents(wire.eventsQueryInput(query))),
  }),
];
