import type { ChannelOptions } from "@grpc/grpc-js";
import { ConfigError, isProduction, readBool, type Env } from "./config.js";

/**
 * The internal gRPC channels (callers to Processing, Processing's and the gateway's ports) are
 * plaintext: service tokens, not the network, decide who may call. Production must say that
 * the network protects them (a private network or a mesh doing mTLS) with
 * INTERNAL_ALLOW_INSECURE=true, so nobody ships plaintext by accident.
 */
export function readInternalAllowInsecure(env: Env): boolean {
  const allowed = readBool(env, "INTERNAL_ALLOW_INSECURE", !isProduction(env));
  if (isProduction(env) && !allowed)
    throw new ConfigError(
      "production needs INTERNAL_ALLOW_INSECURE=true: internal gRPC is plaintext, so it must run on a private network or behind a mesh doing mTLS",
    );
  return allowed;
}

/** Targets a resolver may turn into several addresses (`dns:///processing:50052`, `ipv4:127.0.0.1:1,127.0.0.1:2`). */
const MULTI_ADDRESS_TARGET = /^(dns|ipv4|ipv6):/;

/**
 * grpc-js keeps channelz statistics (counters and timestamps per call, message and socket) on
 * by default. Nothing here serves channelz, so they only cost CPU on every call; servers and
 * internal clients turn them off.
 */
export const CHANNELZ_OFF = { "grpc.enable_channelz": 0 } as const;

/**
 * Channel options of a client of an internal service. A `dns:`, `ipv4:` or `ipv6:` target
 * gets the round_robin policy, so calls spread over every replica the name resolves to (grpc-js
 * defaults to pick_first: one connection, one replica). A plain `host:port` keeps pick_first.
 * Channelz is off unless `options` says otherwise.
 */
export function internalChannelOptions<Options extends ChannelOptions>(target: string, options: Options): Options {
  const withDefaults = { ...CHANNELZ_OFF, ...options };
  if (!MULTI_ADDRESS_TARGET.test(target) || options["grpc.service_config"] !== undefined) return withDefaults;
  return { ...withDefaults, "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
}
