/**
 * The account page's script (GET /account, docs/account-page.md): plain DOM on top of
 * `tokenver/client` in cookie mode. Every text goes in through `textContent` and every element is
 * built with `createElement`: no markup is ever parsed from a string, the QR code included (an
 * `<img>` of a `data:` URL). The page's Content-Security-Policy allows no inline script.
 */
import { createClient, TokenverError, type ClientUser, type SignInResult } from "../client/index.js";

const root = document.getElementById("app")!;
/** The API's base: the page's own path without `/account...` (a mount prefix stays). */
const base = location.origin + location.pathname.replace(/\/account(\/.*)?$/, "");
const client = createClient({ baseUrl: base, mode: "cookie" });

type Child = Node | string | null | undefined | false;

function h(tag: string, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) if (child) element.append(child);
  return element;
}

function field(label: string, name: string, type = "text", autocomplete = "off"): HTMLElement {
  return h("label", {}, label, h("input", { name, type, autocomplete, required: "" }));
}

function show(...children: Child[]): void {
  root.replaceChildren(...children.filter((c): c is Node | string => Boolean(c)));
  // A new view: keyboard and screen-reader users start at its heading, not at the old view's button.
  const heading = root.querySelector("h1");
  heading?.setAttribute("tabindex", "-1");
  heading?.focus();
}

const status = h("p", { role: "status", id: "status" });
function say(message: string): void {
  status.textContent = message;
}

/** Codes that end the session: the sign-out notice (onChange below) says why, not the error. */
const SESSION_ENDED = new Set(["token_missing", "token_invalid", "token_expired", "token_revoked", "refresh_reused"]);

function messageOf(error: unknown): string {
  if (error instanceof TokenverError) return `${error.problem.title}: ${error.problem.detail}`;
  return "The server could not be reached. Try again.";
}

function sayError(error: unknown): void {
  if (error instanceof TokenverError && SESSION_ENDED.has(error.code)) return;
  say(messageOf(error));
}

/** A form whose submit runs `action` with its fields; errors go to the status line. */
function form(id: string, title: string, fields: HTMLElement[], button: string, action: (values: Record<string, string>) => Promise<void>) {
  const element = h("form", { id }, h("h2", {}, title), ...fields, h("button", { type: "submit" }, button));
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(element as HTMLFormElement)) as Record<string, string>;
    say("");
    action(values).catch(sayError);
  });
  return element;
}

/** A call of the signed-in user's; `publicApi` for the endpoints that take no session (no refresh, no cookies). */
async function api(method: string, path: string, body?: unknown): Promise<any> {
  return answerOf(await client.fetch(path, requestInit(method, body)));
}

async function publicApi(method: string, path: string, body?: unknown): Promise<any> {
  return answerOf(await fetch(base + path, { ...requestInit(method, body), credentials: "omit" }));
}

function requestInit(method: string, body?: unknown): RequestInit {
  return body === undefined ? { method } : { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

async function answerOf(response: Response): Promise<any> {
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const problem = parsed ?? {
      type: "about:blank",
      title: "Error",
      status: response.status,
      detail: `The server answered ${response.status}.`,
      code: "bad_request",
    };
    throw new TokenverError(problem, Number(response.headers.get("retry-after")) || undefined);
  }
  return parsed;
}

function signedOutView(notice = ""): void {
  say(notice);
  show(
    h("h1", {}, "Your account"),
    status,
    form(
      "sign-in",
      "Sign in",
      [field("Email", "email", "email", "username"), field("Password", "password", "password", "current-password")],
      "Sign in",
      async (v) => {
        const result = await client.signIn({ email: v.email!, password: v.password! });
        await afterSignIn(result);
      },
    ),
    form(
      "sign-up",
      "Create an account",
      [field("Email", "email", "email", "username"), field("Password", "password", "password", "new-password")],
      "Create account",
      async (v) => {
        const { signedIn } = await client.signUp({ email: v.email!, password: v.password! });
        if (signedIn) await signedInView();
        else say("Check your email: follow the link to verify your address, then sign in.");
      },
    ),
    form("forgot", "Forgot your password?", [field("Email", "email", "email", "username")], "Email me a link", async (v) => {
      await publicApi("POST", "/password/forgot", { email: v.email });
      say("If an account has this address, a link to reset its password is on its way.");
    }),
  );
}

async function afterSignIn(result: SignInResult): Promise<void> {
  if (result.status === "signed_in") return signedInView();
  show(
    h("h1", {}, "Two-step sign-in"),
    status,
    form(
      "mfa",
      "Enter the code from your authenticator app (or a recovery code)",
      [field("Code", "code", "text", "one-time-code")],
      "Continue",
      async (v) => {
        await afterSignIn(await result.submitCode(v.code!.trim()));
      },
    ),
  );
}

async function signedInView(notice = ""): Promise<void> {
  const user = await client.getUser();
  const { sessions } = (await api("GET", "/sessions")) as {
    sessions: { id: string; created_at: string; user_agent: string | null; current: boolean }[];
  };
  say(notice);
  const sessionList = h(
    "ul",
    { id: "sessions" },
    ...sessions.map((s) => {
      const button = h("button", { type: "button", "data-session": s.id }, s.current ? "Sign out this device" : "Sign out");
      button.addEventListener("click", () => {
        const done = s.current
          ? client.signOut({ scope: "session" }).then(() => signedOutView("Signed out on this device."))
          : api("DELETE", `/sessions/${encodeURIComponent(s.id)}`).then(() => signedInView("Session signed out."));
        done.catch(sayError);
      });
      return h(
        "li",
        {},
        `${s.user_agent ?? "Unknown device"}, since ${new Date(s.created_at).toLocaleString()}${s.current ? " (this device)" : ""} `,
        button,
      );
    }),
  );
  const everywhere = h("button", { type: "button", id: "sign-out-everywhere" }, "Sign out everywhere");
  everywhere.addEventListener("click", () => {
    client
      .signOut({ scope: "all" })
      .then(() => signedOutView("Signed out everywhere."))
      .catch(sayError);
  });
  show(
    h("h1", {}, "Your account"),
    status,
    h("p", { id: "who" }, `Signed in as ${user.email}`, user.email_verified === false ? " (not verified yet)" : ""),
    h("h2", {}, "Devices"),
    sessionList,
    everywhere,
    form(
      "profile",
      "Profile",
      [h("label", {}, "Username", h("input", { name: "username", value: user.username ?? "", autocomplete: "nickname" }))],
      "Save",
      async (v) => {
        await api("PATCH", "/profile", { username: v.username || null });
        await signedInView("Profile saved.");
      },
    ),
    form(
      "password",
      "Change your password",
      [field("Current password", "current", "password", "current-password"), field("New password", "next", "password", "new-password")],
      "Change password",
      async (v) => {
        await client.changePassword({ currentPassword: v.current!, newPassword: v.next! });
        await signedInView("Password changed. Your other devices are signed out.");
      },
    ),
    secondFactorSection(user),
    form(
      "email",
      "Change your email",
      [field("New email", "new_email", "email", "email"), field("Password", "password", "password", "current-password")],
      "Send a confirmation link",
      async (v) => {
        await api("POST", "/email", { new_email: v.new_email, password: v.password });
        say("A confirmation link is on its way to the new address.");
      },
    ),
    form(
      "delete",
      "Delete your account",
      [field("Password", "password", "password", "current-password")],
      "Delete my account",
      async (v) => {
        await api("DELETE", "/profile", { password: v.password });
        await client.signOut({ scope: "session" }).catch(() => undefined);
        signedOutView("Your account is deleted.");
      },
    ),
  );
}

/** Turning the second factor on (QR code, confirm, recovery codes shown once) or off. */
function secondFactorSection(user: ClientUser): HTMLElement | null {
  if (user.mfa_enabled === undefined) return null;
  if (user.mfa_enabled) {
    return form(
      "mfa-off",
      "Two-step sign-in is on",
      [field("Password", "password", "password", "current-password"), field("Code", "code", "text", "one-time-code")],
      "Turn it off",
      async (v) => {
        await api("DELETE", "/mfa/totp", { password: v.password, code: v.code!.trim() });
        await signedInView("Two-step sign-in is off.");
      },
    );
  }
  const section = h("section", { id: "mfa-setup" }, h("h2", {}, "Two-step sign-in"));
  const start = h("button", { type: "button" }, "Set up an authenticator app");
  start.addEventListener("click", () => {
    api("POST", "/mfa/totp")
      .then(({ secret, qr_svg }: { secret: string; qr_svg: string }) => {
        const qr = h("img", {
          alt: "QR code for your authenticator app",
          src: `data:image/svg+xml;base64,${btoa(qr_svg)}`,
          width: "200",
          height: "200",
        });
        const confirm = form(
          "mfa-confirm",
          "Confirm with a code",
          [field("Code", "code", "text", "one-time-code"), field("Password", "password", "password", "current-password")],
          "Turn on",
          async (v) => {
            const { recovery_codes } = (await api("POST", "/mfa/totp/confirm", { code: v.code!.trim(), password: v.password })) as {
              recovery_codes: string[];
            };
            show(
              h("h1", {}, "Save your recovery codes"),
              h("p", {}, "Each works once if you lose your authenticator. They are not shown again."),
              h("ul", { id: "recovery-codes" }, ...recovery_codes.map((c) => h("li", {}, h("code", {}, c)))),
              linkButton("Done", () => void signedInView("Two-step sign-in is on.")),
            );
          },
        );
        section.replaceChildren(h("h2", {}, "Two-step sign-in"), qr, h("p", {}, "Or enter this key: ", h("code", {}, secret)), confirm);
      })
      .catch(sayError);
  });
  section.append(start);
  return section;
}

function linkButton(text: string, onClick: () => void): HTMLElement {
  const button = h("button", { type: "button" }, text);
  button.addEventListener("click", onClick);
  return button;
}

/**
 * The reset and verification links carry their token in the fragment (never sent to a server).
 * It is read once and cleared from the address bar, and posted only after a click, so a link
 * scanner that opens the page does not use the link up.
 */
function tokenFromFragment(): string | undefined {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? undefined;
  history.replaceState(null, "", location.pathname);
  return token;
}

function resetView(token: string | undefined): void {
  if (token === undefined) return signedOutView("This reset link is incomplete. Ask for a new one.");
  show(
    h("h1", {}, "Choose a new password"),
    status,
    form("reset", "New password", [field("New password", "new_password", "password", "new-password")], "Set password", async (v) => {
      await publicApi("POST", "/password/reset", { token, new_password: v.new_password });
      signedOutView("Password changed. Every device was signed out: sign in with the new password.");
    }),
  );
}

function verifyView(token: string | undefined): void {
  if (token === undefined) return signedOutView("This verification link is incomplete.");
  show(
    h("h1", {}, "Verify your email"),
    status,
    linkButton("Verify my email address", () => {
      publicApi("POST", "/email/verify", { token })
        .then(() => signedOutView("Your email address is verified."))
        .catch(sayError);
    }),
  );
}

/** The cancel link of an email change, mailed to the old address (docs/recovery.md): kills the change, signs out everywhere. */
function cancelEmailView(token: string | undefined): void {
  if (token === undefined) return signedOutView("This cancel link is incomplete.");
  show(
    h("h1", {}, "Cancel the email change"),
    status,
    linkButton("This was not me: cancel the change and sign out everywhere", () => {
      api("POST", "/email/cancel", { token })
        .then(() => signedOutView("The change was cancelled and every device signed out. Change your password now."))
        .catch(sayError);
    }),
  );
}

const SIGNED_OUT_BECAUSE = {
  revoked: "You were signed out: this session was ended (signed out everywhere, a password change, or an administrator).",
  reused: "You were signed out: this session's refresh token was used twice, so it was ended to be safe.",
  expired: "Your session expired. Sign in again.",
} as const;

client.onChange((change) => {
  if (change.type === "signedOut" && change.reason !== "logout") signedOutView(SIGNED_OUT_BECAUSE[change.reason]);
});

const path = location.pathname.replace(/\/+$/, "");
if (path.endsWith("/account/reset")) resetView(tokenFromFragment());
else if (path.endsWith("/account/verify")) verifyView(tokenFromFragment());
else if (path.endsWith("/account/cancel-email")) cancelEmailView(tokenFromFragment());
else signedInView().catch(() => signedOutView());
