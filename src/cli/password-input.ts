/**
 * A password for a CLI command, never from an argument (it would be in the shell's history and
 * in `ps`): typed at a prompt that does not echo when standard input is a terminal, else the
 * first line of standard input (`printf '%s\n' "$PASSWORD" | tokenver users create ...`).
 */
export async function readPassword(prompt: string): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden(prompt);
    const again = await promptHidden("Repeat it: ");
    if (first !== again) throw new PasswordInputError("the two passwords differ");
    return first;
  }
  return firstLine();
}

/** No password could be read (nothing on standard input, the prompt ended, the two differ). */
export class PasswordInputError extends Error {}

/** Reads a line from the terminal in raw mode, echoing nothing; prompts on standard error. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") {
          finish();
          return resolve(value);
        }
        if (char === "\u0003" || char === "\u0004") {
          // Ctrl-C, Ctrl-D: nothing is created.
          finish();
          return reject(new PasswordInputError("no password given"));
        }
        if (char === "\u007f" || char === "\b") value = Array.from(value).slice(0, -1).join("");
        else value += char;
      }
    };
    stdin.on("data", onData);
  });
}

/** The first line of standard input, without its line ending. */
async function firstLine(): Promise<string> {
  let text = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) {
    text += chunk as string;
    const end = text.indexOf("\n");
    if (end >= 0) {
      process.stdin.destroy();
      return text.slice(0, end).replace(/\r$/, "");
    }
  }
  if (text === "") throw new PasswordInputError("no password on standard input (pipe it in, or run on a terminal to be asked)");
  return text;
}
