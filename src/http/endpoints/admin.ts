import { endpoint, NO_BODY, type AnyEndpoint } from "../endpoint.js";
import * as S from "../schemas.js";
import * as wire from "../wire.js";
import * as A from "./admin-schemas.js";

/**
 * The admin API (docs/api.md section 10): bearer of an enabled admin, whose role `runEndpoint`
 * reads from the database on every request (others: `403 forbidden`). Each action calls the
 * server-side user API of the `Auth` object with the admin as the actor; the revoking ones hold
 * on every node when they answer, as logout does.
 */
const FORBIDDEN = [403, ["forbidden"]] as const;
const ADMIN_ERRORS = S.problems(401, FORBIDDEN, 404, 503);

export const ADMIN_ENDPOINTS: readonly AnyEndpoint[] = [
  endpoint({
    method: "GET",
    path: "/admin/users",
    access: "admin",
    tags: ["admin"],
    summary: "List users",
    description:
      "Newest first, a page at a time: pass `next_cursor` back as `cursor` for the next page; it is `null` on the last. " +
      "`query` matches the email or the username literally (no wildcards), ignoring case.",
    query: A.AdminUsersQuery,
    status: 200,
    response: A.userList,
    errors: S.problems(400, 401, FORBIDDEN, 503),
    handler: async ({ auth, query }) => wire.userPageView(auth.profileSchema, await auth.listUsers(wire.adminUsersQueryInput(query))),
  }),
  endpoint({
    method: "GET",
    path: "/admin/users/:id",
    access: "admin",
    tags: ["admin"],
    summary: "One user and their live sessions",
    params: A.UserParams,
    status: 200,
    response: A.userDetail,
    errors: ADMIN_ERRORS,
    handler: async ({ auth, params }) => wire.userDetailView(auth.profileSchema, await auth.getUserDetail(params.id)),
  }),
  endpoint({
    method: "POST",
    path: "/admin/users/:id/disable",
    access: "admin",
    tags: ["admin"],
    summary: "Disable an account",
    description:
      "Increments the token version and revokes every session (every token dies on every node before this answers); " +
      "sign-in and refresh then answer `403 account_disabled`. The last enabled admin cannot be disabled (`403 forbidden`).",
    params: A.UserParams,
    status: 204,
    response: NO_BODY("Disabled"),
    errors: ADMIN_ERRORS,
    handler: async ({ auth, principal, params }) => void (await auth.disableUser(params.id, { admin: principal })),
  }),
  endpoint({
    method: "POST",
    path: "/admin/users/:id/enable",
    access: "admin",
    tags: ["admin"],
    summary: "Enable a disabled account",
    description: "The user may sign in again; tokens revoked by the disabling stay revoked.",
    params: A.UserParams,
    status: 204,
    response: NO_BODY("Enabled"),
    errors: ADMIN_ERRORS,
    handler: async ({ auth, principal, params }) => void (await auth.enableUser(params.id, { admin: principal })),
  }),
  endpoint({
    method: "POST",
    path: "/admin/users/:id/logout",
    access: "admin",
    tags: ["admin"],
    summary: "Log a user out everywhere",
    description: "Increments the token version and revokes every session: every token dies on every node before this answers.",
    params: A.UserParams,
    status: 204,
    response: NO_BODY("Logged out"),
    errors: ADMIN_ERRORS,
    handler: async ({ auth, principal, params }) => void (await auth.logoutUser(params.id, { admin: principal })),
  }),
  endpoint({
    method: "DELETE",
    path: "/admin/users/:id",
    access: "admin",
    tags: ["admin"],
    summary: "Delete an account",
    description:
      "Deletes the user, their sessions and refresh tokens; every token dies on every node before this answers. " +
      "The last enabled admin cannot be deleted (`403 forbidden`).",
    params: A.UserParams,
    status: 204,
    response: NO_BODY("Deleted"),
    errors: ADMIN_ERRORS,
    handler: async ({ auth, principal, params }) => void (await auth.deleteUser(params.id, { admin: principal })),
  }),
];
