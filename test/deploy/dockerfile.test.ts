import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { repoRoot } from "@payments/common/paths";
import { SERVICE_GC_FLAG, SERVICE_HEAP_FLAGS } from "../../scripts/lib/childProcess.js";

/** Folders of the npm workspaces (the root package.json's `workspaces`, each "<dir>/*"). */
async function workspaceFolders(): Promise<string[]> {
  const { workspaces } = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as { workspaces: string[] };
  const folders: string[] = [];
  for (const pattern of workspaces) {
    const parent = pattern.replace(/\/\*$/, "");
    for (const entry of await readdir(path.join(repoRoot, parent), { withFileTypes: true }))
      if (entry.isDirectory()) folders.push(`${parent}/${entry.name}`);
  }
  return folders;
}

// No Docker engine runs here: these checks keep the image recipe in step with the tree.
describe("Dockerfile", () => {
  it("copies every workspace's manifest before npm ci (npm ci fails on a workspace it cannot find)", async () => {
    const dockerfile = await readFile(path.join(repoRoot, "Dockerfile"), "utf8");
    for (const folder of await workspaceFolders()) expect(dockerfile, folder).to.include(`COPY ${folder}/package.json ${folder}/`);
  });

  it("copies the compiled code of every service and runtime library into the runtime image", async () => {
    const dockerfile = await readFile(path.join(repoRoot, "Dockerfile"), "utf8");
    const runtime = dockerfile.slice(dockerfile.indexOf("AS runtime"));
    // libs/testing holds test helpers only.
    for (const folder of (await workspaceFolders()).filter((f) => f !== "libs/testing"))
      expect(runtime, folder).to.include(`COPY --from=build /app/${folder}/dist ${folder}/dist`);
  });

  it("runs the services with the heap limits the local launcher uses, set after npm ci", async () => {
    const dockerfile = await readFile(path.join(repoRoot, "Dockerfile"), "utf8");
    const runtime = dockerfile.slice(dockerfile.indexOf("AS runtime"));
    const limit = runtime.indexOf(`ENV NODE_OPTIONS="${SERVICE_HEAP_FLAGS.join(" ")}"`);
    expect(limit, "the runtime stage sets it").to.be.greaterThan(0);
    expect(limit, "after npm ci").to.be.greaterThan(runtime.indexOf("RUN npm ci"));
  });

  it("starts the services with the garbage-collector flag the local launcher uses", async () => {
    const dockerfile = await readFile(path.join(repoRoot, "Dockerfile"), "utf8");
    expect(dockerfile).to.include(`"exec node ${SERVICE_GC_FLAG} services/\${SERVICE}/dist/main.js"`);
  });
});
