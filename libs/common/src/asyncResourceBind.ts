import { AsyncResource } from "node:async_hooks";

/**
 * Replaces `AsyncResource.prototype.bind` with one that gives the bound function its
 * `asyncResource` as a plain data property instead of Node's deprecated accessor (DEP0172),
 * and behaves the same otherwise. Call it at the start of a process (again is harmless).
 *
 * Why: Node (20 and 24) defines that accessor on every bound function, and V8 allocates an
 * accessor's getter/setter pair straight in the old generation. The pair points at the
 * fresh getter closure, whose scope holds the bound target, so every bound function is
 * reachable from an old object, and a young-generation collection (which treats old-to-young
 * pointers as live) keeps it and all it reaches alive until the next full collection.
 * `ClientHttp2Session.request()` binds each new stream this way, so each gRPC client call
 * (the stream, grpc-js's call objects and what their listeners hold) survived scavenges and
 * was promoted: in Payment and Gateway, scavenges took 5-9 ms instead of ~2 ms and full
 * collections came every few seconds, and those pauses made up much of `CreatePayment`'s p99
 * (README, Performance). With a data property nothing old points at the bound function.
 */
export function replaceAsyncResourceBind(): void {
  AsyncResource.prototype.bind = bindWithoutAccessor as AsyncResource["bind"];
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

// Node's own bind, minus the accessor: same check, same scope, `this` and length. (Node's
// typings omit the second parameter, which AsyncResource.bind(fn, type, thisArg) passes.)
function bindWithoutAccessor(this: AsyncResource, fn: AnyFunction, thisArg?: unknown): AnyFunction {
  if (typeof fn !== "function") {
    const received = fn === null ? "null" : typeof fn;
    throw Object.assign(new TypeError(`The "fn" argument must be of type function. Received ${received}`), { code: "ERR_INVALID_ARG_TYPE" });
  }
  const resource = this;
  const bound: AnyFunction =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  Object.defineProperties(bound, {
    length: { configurable: true, enumerable: false, value: fn.length, writable: false },
    asyncResource: { configurable: true, enumerable: true, value: resource, writable: true },
  });
  return bound;
}
