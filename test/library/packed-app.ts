/**
 * The package as an application gets it (test/library/packed-*.test.ts): `npm pack`, installed into fresh apps (one on the lowest
 * Fastify 5 and Express 5 we support, one on the newest 5.x of each), type-checked by tsc with `skipLibCheck: false`,
 * then run as ESM (Fastify) and as CommonJS (Fastify and Express through `require()`), each doing
 * register, a protected route, logout, and the old token's `401 token_revoked`.
 *
 * Installs come from the npm cache (`--prefer-offline`, what `npm ci` filled); a version not in
 * it is fetched from the registry. `--ignore-scripts` keeps it fast: the one native binding
 * (better-sqlite3) is copied from this checkout when the versions match, else rebuilt.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURE = join(ROOT, "test/fixtures/packed-app");
const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
/** The lowest Fastify the peer range admits: `^5.0.0` means 5.0.0 must work. */
export const LOWEST_FASTIFY = String(packageJson.peerDependencies.fastify).replace(/^\^/, "");
/** The lowest Express (and its types) the optional peer ranges admit, installed beside the lowest Fastify. */
const LOWEST_EXPRESS = String(packageJson.peerDependencies.express).replace(/^\^/, "");
const LOWEST_EXPRESS_TYPES = String(packageJson.peerDependencies["@types/express"]).replace(/^\^/, "");

/**
 * Registers the tests of one app: the package packed once per file, installed with `fastify`
 * at `fastifyRange`. One app per test file, so each file stays within the runner's time limit.
 */
export function packedAppTests(app: { name: string; fastify: string }): void {
  let work: string;
  let tarball: string;
  let packedFiles: string[];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), `tokenver-packed-${app.name}-`));
    const root = await packableRoot(work);
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: root });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(work, packed!.filename);
    packedFiles = packed!.files.map((f) => f.path);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("the package ships its license, its docs and no source maps", () => {
    assert.ok(packedFiles.includes("LICENSE"));
    assert.ok(packedFiles.includes("docs/library.md"));
    assert.deepEqual(
      packedFiles.filter((f) => f.endsWith(".map")),
      [],
    );
    // Every relative link of the README resolves to a file in the package.
    const links = [...readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/\]\((?!https?:|#|mailto:)([^)#\s]+)/g)].map((m) => m[1]!);
    assert.ok(links.length > 0);
    for (const link of links) assert.ok(packedFiles.includes(link.replace(/^\.\//, "")), `README links to ${link}, which is not shipped`);
  });

  test(`Fastify ${app.fastify} and Express: tsc with skipLibCheck false, then ESM and CommonJS runs`, async () => {
    const dir = join(work, app.name);
    cpSync(FIXTURE, dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `packed-app-${app.name}`, private: true, version: "0.0.0" }));
    const install = await run(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        tarball,
        `fastify@${app.fastify}`,
        `express@${app.name === "lowest" ? LOWEST_EXPRESS : "5"}`,
        `@types/express@${app.name === "lowest" ? LOWEST_EXPRESS_TYPES : "5"}`,
        "@types/node@20",
      ],
      { cwd: dir, maxBuffer: 16 << 20 },
    );
    // No dependency of tokenver (the docs page's content-disposition was one) wants a newer Node.
    // The peers are the app's choice: the newest Fastify's own light-my-request wants cookie 2 (Node 22).
    const warned = [...(install.stdout + install.stderr).matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((m) => m[1]!);
    const ours = await tokenverDependencies(dir);
    assert.deepEqual(
      warned.filter((p) => ours.has(p)),
      [],
      `tokenver's dependencies want a newer Node: ${warned.join(", ")}`,
    );
    // The public types need no devDependency of tokenver.
    assert.equal(existsSync(join(dir, "node_modules/@types/better-sqlite3")), false);
    await provideSqliteBinding(dir);

    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    await run(process.execPath, [tsc, "-p", dir], { cwd: dir }).catch((error: { stdout?: string }) => {
      assert.fail(`tsc failed in the ${app.name} app:\n${error.stdout}`);
    });

    const installed = JSON.parse(readFileSync(join(dir, "node_modules/fastify/package.json"), "utf8")).version as string;
    if (app.name === "lowest") {
      assert.equal(installed, LOWEST_FASTIFY);
      assert.equal(JSON.parse(readFileSync(join(dir, "node_modules/express/package.json"), "utf8")).version, LOWEST_EXPRESS);
    }
    const esm = await run(process.execPath, [join(dir, "out/fastify.mjs")], { cwd: dir });
    assert.match(esm.stdout, new RegExp(`ok: fastify ${installed.replaceAll(".", "\\.")}, ESM`));
    const cjs = await run(process.execPath, [join(dir, "out/commonjs.cjs")], { cwd: dir });
    assert.match(cjs.stdout, /ok: fastify .* and express, CommonJS/);
    // require() of the ESM build loads without a warning an application would see.
    assert.doesNotMatch(cjs.stderr, /Warning/);
  });
}

/**
 * The directory to pack: this checkout when dist is newer than every source file (CI's `npm ci`
 * builds it), else a staging copy built here (never rebuilding this checkout's dist under the
 * feet of a test running beside this one).
 */
async function packableRoot(work: string): Promise<string> {
  const built = join(ROOT, "dist/index.js");
  const newestSource = Math.max(...filesUnder(join(ROOT, "src")).map((f) => statSync(f).mtimeMs));
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource) return ROOT;
  const staging = join(work, "staging");
  for (const entry of ["package.json", "README.md", "LICENSE", "CHANGELOG.md", "docs"])
    cpSync(join(ROOT, entry), join(staging, entry), { recursive: true });
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", join(staging, "dist")], { cwd: ROOT });
  return staging;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The native SQLite binding, without running install scripts: this checkout's build when the versions match. */
async function provideSqliteBinding(dir: string): Promise<void> {
  const version = (root: string) => JSON.parse(readFileSync(join(root, "node_modules/better-sqlite3/package.json"), "utf8")).version;
  if (version(dir) === version(ROOT) && existsSync(join(ROOT, "node_modules/better-sqlite3/build/Release"))) {
    cpSync(join(ROOT, "node_modules/better-sqlite3/build"), join(dir, "node_modules/better-sqlite3/build"), { recursive: true });
  } else {
    await run("npm", ["rebuild", "better-sqlite3"], { cwd: dir });
  }
}

interface LsNode {
  version?: string;
  dependencies?: Record<string, LsNode>;
}

/** `name@version` of everything tokenver installs, its peers (the app's choice) left out. */
async function tokenverDependencies(dir: string): Promise<Set<string>> {
  const { stdout } = await run("npm", ["ls", "--all", "--json"], { cwd: dir, maxBuffer: 64 << 20 }).catch((error: { stdout: string }) => ({
    stdout: error.stdout,
  }));
  const tree = JSON.parse(stdout) as LsNode;
  const peers = new Set(Object.keys(packageJson.peerDependencies));
  const found = new Set<string>();
  const walk = (node: LsNode | undefined) => {
    for (const [name, child] of Object.entries(node?.dependencies ?? {})) {
      if (peers.has(name) || found.has(`${name}@${child.version}`)) continue;
      found.add(`${name}@${child.version}`);
      walk(child);
    }
  };
  walk(tree.dependencies?.tokenver);
  return found;
}
