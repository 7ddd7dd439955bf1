// Reads deliverycli's events from NATS JetStream, in log order (the relay publishes them there).
//   node consumer.mjs [nats://127.0.0.1:4222] [DELIVERYCLI] [subjects, e.g. deliverycli.payment.>] [--once]
// --once: exit after the last event the stream holds now.
import { connect } from "nats";

const once = process.argv.includes("--once");
const [server = "nats://127.0.0.1:4222", stream = "DELIVERYCLI", subjects] = process.argv.slice(2).filter((a) => a !== "--once");

const nc = await connect({ servers: server });
// An ordered consumer, from the first event (only those on `subjects` when given)
const consumer = await nc.jetstream().consumers.get(stream, subjects ? { filterSubjects: subjects } : {});
for await (const m of await consumer.consume()) {
  const event = m.json(); // the same JSON as `deliverycli events tail --json`
  console.log(`${m.headers.get("Nats-Msg-Id")} ${m.subject} ${event.order_id} ${event.payload.status ?? ""}`.trim());
  if (once && m.info.pending === 0) break;
}
await nc.close();
