import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * The command that starts a tokenver server for the campaign and the soak run (before `serve`):
 * - `snapshot`: src/ compiled once into `<dir>/build/dist`, so that edits made while a run goes on
 *   do not leak into it (type errors still emit JavaScript; a missing cli.js stops the run);
 * - `dist`: node dist/cli.js; `source`: src/cli.ts through tsx.
 */
export function serverCommand(
  mode: string | undefined,
  root: string,
  dir: string,
  log: (message: string) => void,
): { command: string[]; compileErrors: string[] } {
  switch (mode) {
    case "dist":
      return { command: [process.execPath, join(root, "dist", "cli.js")], compileErrors: [] };
    case "source":
      return { command: [process.execPath, "--import", "tsx", join(root, "src", "cli.ts")], compileErrors: [] };
    case "snapshot": {
      const out = join(dir, "build");
      let compileErrors: string[] = [];
      log(`compiling src/ into ${relative(root, out)}/dist`);
      try {
        execFileSync(
          process.execPath,
          [
            join(root, "node_modules", "typescript", "bin", "tsc"),
            "-p",
            "tsconfig.build.json",
            "--outDir",
            join(out, "dist"),
            "--declaration",
            "false",
            "--sourceMap",
            "false",
          ],
          { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
        );
      } catch (error) {
        // Type errors (others may be editing src/ right now) still emit JavaScript; a missing
        // cli.js, or nodes that do not start, stop the run soon enough.
        const text = (error as { stdout?: Buffer }).stdout?.toString() ?? String(error);
        compileErrors = text.split("\n").filter((l) => /error TS\d+/.test(l));
        log(`WARNING: src/ compiled with ${compileErrors.length} type error(s):\n${compileErrors.slice(0, 10).join("\n")}`);
        if (!existsSync(join(out, "dist", "cli.js"))) throw new Error(`src/ did not compile:\n${text}`);
      }
      // cli.js reads ../package.json; "type": "module" makes the .js files ESM. Packages resolve
      // from the repository's node_modules, up the tree.
      copyFileSync(join(root, "package.json"), join(out, "package.json"));
      return { command: [process.execPath, join(out, "dist", "cli.js")], compileErrors };
    }
    default:
      throw new Error("--server must be snapshot, dist or source");
  }
}
