import { envOfOption, SETTINGS, type Setting, type SettingKind } from "./table.js";
import { identifierForm, orList } from "./resolve.js";

/** What a setting takes, from its kind, as docs/configuration.md says it (Markdown). */
function rangeOf(kind: SettingKind): string | undefined {
  switch (kind.type) {
    case "string":
      if (kind.minBytes !== undefined) return `at least ${kind.minBytes} bytes`;
      return kind.nonEmpty ? "not empty" : undefined;
    case "url":
      return orList(kind.forms.map((f) => `\`${f}\``));
    case "integer": {
      const atLeast = kind.atLeast === undefined ? "" : `, at least \`${envOfOption(kind.atLeast) ?? kind.atLeast}\``;
      return `${kind.min} to ${kind.max}${atLeast}`;
    }
    case "identifier":
      return identifierForm(kind);
    case "enum":
      return `one of ${kind.values.map((v) => `\`${v}\``).join(", ")}`;
    case "trust-proxy":
      return `\`true\`: one proxy hop; a hop count from 1 to ${kind.maxHops}; or comma-separated proxy addresses/CIDRs`;
    default:
      return undefined;
  }
}

/** The meaning cell: the setting's line, then what it takes in parentheses. */
export function meaningOf(setting: Setting): string {
  const range = rangeOf(setting.kind);
  return range === undefined ? setting.doc : `${setting.doc} (${range})`;
}

/** The default cell: the server's default, then the library's where it differs. */
export function defaultOf(setting: Setting): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const plain = setting.default === undefined ? "unset" : `\`${String(setting.default)}\``;
  if (setting.serverDefault === undefined) return plain;
  return `\`${setting.serverDefault}\` (\`createAuth()\`: ${plain})`;
}

/** The configuration table of docs/configuration.md (Markdown), generated from `SETTINGS`. */
export function configurationTable(): string {
  const rows = (SETTINGS as readonly Setting[]).map((s) => {
    const cells = [s.env ? `\`${s.env}\`` : "-", s.option ? `\`${s.option}\`` : "-", defaultOf(s), meaningOf(s)];
    return `| ${cells.join(" | ")} |`;
  });
  return ["| variable | `createAuth()` option | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
