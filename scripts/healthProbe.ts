/**
 * Container health check: `node scripts/dist/healthProbe.js <port> [service]` asks the gRPC
 * health service on localhost:<port> and exits 0 when it is SERVING, 1 otherwise.
 */
import { checkHealth } from "@payments/common/grpc/healthCheck";

const [port, service = ""] = process.argv.slice(2);
if (!port || !/^\d{1,5}$/.test(port)) {
  process.stderr.write("usage: healthProbe <port> [service]\n");
  process.exit(1);
}

checkHealth(`127.0.0.1:${port}`, { service, deadlineMs: 2_000 }).then(
  (status) => {
    process.stdout.write(`${status}\n`);
    process.exit(status === "SERVING" ? 0 : 1);
  },
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
