/**
 * Small, strict readers for environment variables. Each service parses its whole
 * configuration once, in its own config.ts, from an env object (process.env by default)
 * so that tests can pass their own.
 */
export type Env = Record<string, string | undefined>;

/** Thrown when a setting is missing or malformed; the process refuses to start. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export function readString(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === "" ? fallback : value;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

export function readInt(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function readNumber(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_VALUE): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigError(`${name} must be a number, got "${raw}"`);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export function readList(env: Env, name: string, fallback: string[] = []): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  return raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

/** True when NODE_ENV is "production": insecure dev defaults are refused. */
export function isProduction(env: Env): boolean {
  return env.NODE_ENV === "production";
}
