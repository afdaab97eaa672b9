"""The kernel every side of pygfs shares: the client, the master and the chunkservers.

- `errors`: the exception tree (no gRPC in it: the pure cores raise these).
- `paths`: the namespace's path rules.
- `transport`: channels, deadlines, retries, and the one table between gRPC status codes and
  `errors`, used both ways (a subclass survives the wire).
- `serving`: what both servers' servicers share (errors leave as statuses).
- `keyedlocks`: one lock per key, made on first use and dropped when nobody holds or awaits it.
- `loops`: background loops that outlive an exception in one of their rounds.

It imports nothing of `client`, `master` or `chunkserver`.
"""
