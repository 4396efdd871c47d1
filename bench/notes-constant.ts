/** What the protected `GET /notes` route of the bench apps returns: a constant, so only auth costs. */
export const NOTES = { notes: [{ id: "1", text: "benchmark" }] };
