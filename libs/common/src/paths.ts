import { fileURLToPath } from "node:url";
import path from "node:path";

/** The repository root (src/ and dist/ both sit two levels below it). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** Git-ignored folder for local state: embedded database, NATS store, dev keys. */
export const defaultDataDir = path.join(repoRoot, ".data");
