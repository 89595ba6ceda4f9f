// Package metrics lets an operator see inside a running mount. Each mount
// has its own Prometheus registry (no package globals, no default
// registry) holding:
//
//   - OSS requests by operation and outcome, their retries, latencies and
//     bytes, reported by the client (ossapi.Observer, oss.go);
//   - FUSE operations by type, their latencies, interrupts and errors by
//     errno, measured by a decorator around go-fuse's RawFileSystem
//     (fuse.go);
//   - the file system's read-ahead, caches, memory and disk budgets and
//     uploads, and the credentials' source, expiry and renewals, read from
//     their owners at each scrape (collect.go);
//   - build and mount information, and the Go runtime and process metrics.
//
// The registry is served on /metrics (server.go) when the mount is given
// -o metrics=127.0.0.1:PORT, and summarized for people (summary.go) by
// `ossmount stats` and on SIGUSR1. docs/OBSERVABILITY.md lists every metric.
package metrics
