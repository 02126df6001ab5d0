// Package supervise keeps named plugin instances alive: it starts each
// under a restart policy, restarts it with exponential backoff and jitter
// when it exits or stops answering health checks, gives up after a restart
// budget (the instance is then failed until Restart), and reports every
// step as an Event and a log record. Calls made through Conn keep working
// across restarts.
//
// With a data directory it also keeps durable state (see docs/supervision.md):
// pid files, per-instance log files with size-capped rotation, and a state
// file written atomically, so that a new Supervisor re-adopts instances
// that outlived the previous host instead of starting them again.
package supervise
