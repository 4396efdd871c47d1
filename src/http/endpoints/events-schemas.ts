import { Type } from "typebox";

/** One security event on the wire (docs/api.md section 10). */
export const SecurityEvent = Type.Object({
  id: Type.String(),
  type: Type.String({ description: "`login.succeeded`, `logout`, `admin.disable`, ... (docs/api.md section 10)." }),
  user_id: Type.Union([Type.String(), Type.Null()]),
  session_id: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String({ description: "`self`, an admin's user id, `cli` or `system`." }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  at: Type.String({ format: "date-time" }),
  detail: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), {
    description: "A few facts (a reason, a scope); never a secret or what was typed.",
  }),
});

export const OwnEvents = Type.Object({ events: Type.Array(SecurityEvent) });

export const EventPage = Type.Object({
  events: Type.Array(SecurityEvent),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: "Pass it as `cursor` for the next page; `null` on the last page." }),
});

export const AdminEventsQuery = Type.Object({
  user_id: Type.Optional(Type.String({ maxLength: 64, description: "Only this user's events." })),
  type: Type.Optional(Type.String({ maxLength: 64, description: "Only events of this type." })),
  cursor: Type.Optional(Type.String({ maxLength: 256, description: "The `next_cursor` of the previous page; omit it for the first." })),
});
