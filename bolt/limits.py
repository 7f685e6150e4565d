"""Every limit and default of Bolt, in one place, with units last in the name.

Limits are checked before anything is buffered or written. A value over a
limit gives :class:`bolt.errors.TooLargeError` (or ``BadRequestError``) and
changes nothing. Library options that have silently truncated data elsewhere
(msgpack buffer sizes, LMDB ``map_size``) are set from here explicitly.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# --- keys, values, requests -------------------------------------------------
key_bytes_max = 64 * KIB
"""Longest key, in UTF-8 bytes."""
value_bytes_max = 8 * MIB
"""Longest string value, list element or set member."""
database_name_bytes_max = 256
"""Longest database (namespace) name."""
batch_keys_max = 100_000
"""Most keys in one MSET/MGET/MDEL, or values in one LPUSH/RPUSH/SADD/SREM."""
request_bytes_max = 64 * MIB
"""Largest request frame a server accepts (checked from the length prefix)."""
frame_bytes_max = request_bytes_max
"""Largest frame the codec accepts in either direction."""
reply_bytes_max = 512 * MIB
"""Largest reply frame a client accepts (LRANGE/SMEMBERS/KEYS can be big)."""
int64_min = -(2**63)
int64_max = 2**63 - 1

# --- the log ---------------------------------------------------------------
record_bytes_max = 128 * MIB
"""Largest record payload in the log (one command's events)."""
segment_bytes_max = 64 * MIB
"""A segment is rolled when it grows past this size."""
wal_batch_size_default = 1000
"""``BOLT_WAL_BATCH_SIZE``: records between fsyncs in ``batch`` mode."""
wal_flush_interval_ms_default = 10
"""``BOLT_WAL_FLUSH_INTERVAL_MS``: longest time between fsyncs in ``batch`` mode."""
wal_fsync_default = "batch"
"""``BOLT_WAL_FSYNC``: ``batch``, ``always`` or ``off``."""
segment_bytes_min = 256
"""Smallest accepted ``segment_bytes_max`` (tests use tiny segments)."""
log_index_interval_bytes = 64 * KIB
"""Bytes between entries of a segment's in-memory offset-to-position index."""
fsync_latency_samples_max = 1024
"""How many recent fsync latencies the log keeps for its p99 statistic."""
wal_inline_write_bytes_max = 64 * KIB
"""``batch``/``off`` rounds up to this size are written on the event loop (no thread hop)."""
log_retry_delay_ms_initial = 100
"""After a write or fsync error, the log first tries to clear it (truncate the
unacknowledged bytes, fsync) this long later; the delay doubles per failed try."""
log_retry_delay_ms_max = 5_000
"""The longest delay between two tries to clear a log error."""
log_retry_probe_bytes = 64 * KIB
"""Bytes a try to clear a log error writes (and cuts off again) to see the disk take writes."""

# --- state -----------------------------------------------------------------
shard_count_default = 64
shard_count_max = 4096
max_memory_default = "75%"
eviction_policy_default = "allkeys-lru"
eviction_policies = ("allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-random", "noeviction")
memory_warning_threshold_percent_default = 90
expiry_sweep_interval_ms = 100
"""How often the background sweep reclaims expired keys."""
expiry_sweep_keys_max = 2000
"""Most expired keys reclaimed per sweep step, so a sweep never stalls the loop."""
entry_overhead_bytes = 260
"""Estimated bytes of bookkeeping per key: the entry object, its slot in the shard's
OrderedDict (with the LRU link) and allocator overhead. Calibrated with
``scripts/bench_engine.py`` (1M small keys: 388 B RSS per key; estimate 384 B)."""
element_overhead_bytes = 72
"""Estimated bytes of bookkeeping per list element or set member."""

# --- snapshots -------------------------------------------------------------
snapshot_interval_events_default = 100_000
snapshot_interval_ms_default = 60_000
lmdb_map_bytes_initial = 1 * GIB
lmdb_map_bytes_max = 1024 * GIB
snapshot_retry_delay_ms_initial = 1_000
"""After a failed snapshot write, the next round waits at least this long; the
delay doubles per consecutive failure."""
snapshot_retry_delay_ms_max = 60_000
"""The longest wait between snapshot rounds after consecutive failures."""

# --- clock -----------------------------------------------------------------
max_clock_offset_ms_default = 500
"""``BOLT_MAX_CLOCK_OFFSET_MS``: remote HLC readings further ahead are refused."""
hlc_logical_bits = 16
"""Low bits of an HLC integer that hold the logical counter."""

# --- server ----------------------------------------------------------------
port_default = 8518
cluster_port_default = 8519
metrics_port_default = 9091
max_connections_default = 1000
auth_failures_before_backoff = 3
auth_backoff_ms_max = 5_000
shutdown_grace_ms = 5_000
client_push_queue_max = 1000
"""Pushes a client holds unread: the sync client then drops the oldest (and
counts them), the trio client stops reading its connection (back-pressure)."""

# --- hardening: what a connection may cost (README "Limits and hardening") ----
prelogin_frame_bytes_max = 4 * KIB
"""Largest frame a connection may send before it logged in (or, without
authentication, before its HELLO): enough for a HELLO with credentials."""
partial_frames_bytes_max = 256 * MIB
"""Server-wide budget of bytes buffered in partially received frames; past it
the connection asking for more is closed (``INPUT_BUDGET``)."""
login_timeout_ms_default = 10_000
"""``BOLT_LOGIN_TIMEOUT_MS``: a connection that has not logged in (or sent its
HELLO when authentication is off) by then is closed (``LOGIN_TIMEOUT``)."""
idle_timeout_ms_default = 0
"""``BOLT_IDLE_TIMEOUT_MS``: close logged-in sessions idle this long (0: never,
like Redis ``timeout 0``)."""
session_check_interval_ms = 250
"""How often the server looks for sessions past a timeout."""
reply_flush_bytes = 1 * MIB
"""Pending reply bytes of one batch past which they are sent before the rest of
the batch runs; the connection is not read meanwhile (back-pressure)."""
output_stall_ms_default = 30_000
"""``BOLT_OUTPUT_STALL_MS``: a connection that has not taken its pending output
for this long is closed and counted (``OUTPUT_LIMIT``): the hard limit of the
output back-pressure."""
auth_hash_runs_max = 2
"""scrypt runs at once (each in a worker thread, ~16 MiB each); more wait."""
metrics_connections_max = 64
"""Concurrent connections to the metrics port; more are closed at once."""
daemon_files_reserve = 256
"""File descriptors kept for the daemon's own files (log segments, LMDB,
listeners, metrics) on top of ``BOLT_MAX_CONNECTIONS`` when sizing
``RLIMIT_NOFILE``."""
auth_backoff_queue_ms_max = 10_000
"""Login attempts from one backing-off address are queued at most this far
ahead; later ones are refused without a password check."""

# --- tasks (bolt.agents) ----------------------------------------------------
task_id_bytes_max = 256
task_type_bytes_max = 256
task_agent_id_bytes_max = 256
task_data_bytes_max = 1 * MIB
"""Largest task data, msgpack-encoded (``TOO_LARGE`` beyond)."""
task_result_bytes_max = 1 * MIB
"""Largest task result, msgpack-encoded."""
task_error_chars_max = 8192
"""A failure's text is cut to this many characters."""
task_parents_max = 256
task_priority_abs_max = 1_000_000
task_lease_ms_default = 30_000
task_lease_ms_min = 100
task_lease_ms_max = 24 * 3600 * 1000
task_max_attempts_default = 3
task_max_attempts_max = 1000
task_list_max = 10_000
"""Most tasks one TASK.LIST reply carries."""
task_sweep_interval_ms = 100
"""How often the node looks for expired leases."""
task_sweep_tasks_max = 1000
"""Most expired leases handled by one sweep command."""
task_wait_ms_max = 10_000
"""Longest one blocking task command (wait, blocking claim) holds its connection;
clients wait longer by repeating it."""
task_wait_slice_ms = 1000
"""A blocking task command re-checks server shutdown and delayed tasks this often."""
task_credit_default = 1
"""Tasks a subscribed agent holds at once."""
task_worker_claim_wait_ms = 1000
"""One blocking claim of a subscribed worker: how soon it notices ``stop()``."""
task_worker_backoff_ms_max = 2000
"""Longest pause of a worker between reconnection attempts to a lost server."""
task_feed_records_max = 10_000
"""Records the task waiters' feed subscription may fall behind before it is dropped
(every waiter then re-reads the view)."""
task_forward_timeout_ms = 10_000
"""A task command forwarded to the node that decides the task gets its reply within
this, or the caller gets ``TASK_HOME_UNAVAILABLE``."""
task_failover_delay_ms_default = 10_000
"""``BOLT_TASK_FAILOVER_DELAY_MS``: a node silent this long has its tasks taken over
(claimed leases: this long after their expiry too)."""
task_retention_ms_default = 3_600_000
"""``BOLT_TASK_RETENTION_MS``: completed and cancelled tasks are removed this long
after they finished."""
task_dead_retention_ms_default = 7 * 24 * 3600 * 1000
"""``BOLT_TASK_DEAD_RETENTION_MS``: dead and failed tasks (which need a person) are
removed this long after they finished."""
task_gc_interval_ms = 1000
"""How often the node removes finished tasks past their retention."""
task_remote_scan_max = 64
"""Pending tasks of another home a blocking claim looks at for a ready one before
forwarding the claim there."""

# --- the change feed -------------------------------------------------------
feed_subscriber_records_max = 10_000
"""Committed records a change-feed subscriber may hold unread before it is dropped
(it then resumes from the log); a slow subscriber never slows writers."""
feed_read_records_max = 1_000
"""Most records one ``Engine.read_changes`` call returns."""

# --- server pushes ---------------------------------------------------------
push_outbox_bytes_max = 256 * KIB
"""Push bytes a connection's outbox holds before its watcher waits (its feed
queue then fills and the watch is dropped, never slowing writers)."""
watch_records_max = 1_000
"""Committed records a key watch may have queued unread before it is dropped."""
watch_pattern_bytes_max = 1 * KIB
"""Longest ``WATCH`` pattern."""

shard_memo_names_max = 4096
"""Names whose shard the keyspace remembers (a write looks its key up twice)."""
batch_chunk_keys = 1_000
"""A longer MSET/MDEL/MGET is run in chunks of this many keys, other clients between them."""

# --- cluster (peer links) --------------------------------------------------
fresh_join_wait_ms = 3_000
"""A node starting with an empty data directory holds local writes
(``NODE_JOINING``) until a peer's handshake says which of its own seqs the
cluster holds, or this long."""
peer_publish_queue_max = 10_000
"""Pub/sub messages waiting for one peer link; past it they are dropped and
counted (pub/sub is at most once, and a publisher never waits)."""
peer_frame_bytes_max = record_bytes_max + MIB
"""Largest frame accepted on the cluster port (one batch may carry a record as
large as ``record_bytes_max``), checked from the length prefix."""
peer_handshake_frame_bytes_max = 4 * KIB
"""Largest frame accepted before a peer has authenticated (hello, proof)."""
peer_nonce_bytes = 32
"""Random bytes each side contributes to the challenge-response."""
peer_handshake_timeout_ms = 5_000
"""A peer that has not finished the handshake by then is disconnected."""
peer_heartbeat_interval_ms = 500
"""How often a link sends a heartbeat (HLC and offsets) when idle."""
peer_suspect_after_ms = 2_000
"""A peer heard from longer ago than this is Suspect."""
peer_dead_after_ms = 6_000
"""A peer heard from longer ago than this (or never) is Dead."""
peer_reconnect_backoff_initial_ms = 100
"""First delay before redialing a peer; doubled per failure, with jitter."""
peer_reconnect_backoff_max_ms = 5_000
"""Longest delay between redials of a peer."""
peer_batch_records_max = 1_000
"""Most log records in one replication batch."""
peer_batch_bytes_max = 1 * MIB
"""A batch is sent once its encoded records pass this size."""
peer_batches_in_flight_max = 8
"""Batches a link sends before it waits for an acknowledgement (flow control)."""
peer_clock_skew_retry_ms = 200
"""How often a batch held for clock skew is offered to the engine again."""
peer_ack_persist_interval_ms = 100
"""Acknowledged offsets are written to the data dir at most this often."""
full_sync_threshold_events_default = 10_000
"""``BOLT_FULL_SYNC_THRESHOLD``: a peer more events behind than this gets a full sync."""
full_sync_chunk_entries_max = 2_000
"""Most keys (or task rows) in one full-sync chunk: one chunk is encoded on the event
loop between two yields, so this bounds the pause other clients see."""
full_sync_chunk_bytes_max = 1 * MIB
"""A full-sync chunk is sent once its encoded entries pass this size."""
full_sync_chunks_in_flight_max = 4
"""Full-sync chunks sent before the sender waits for the receiver to stage one."""
full_sync_merge_entries_per_yield = 2_000
"""Staged keys the receiver merges into its views between two yields to trio."""
peer_log_retention_bytes_default = 1 * GIB
"""``BOLT_PEER_LOG_RETENTION_BYTES``: log kept past the snapshot for a lagging peer; a peer
needing more is marked for a full sync and stops holding the log."""
peer_log_retention_ms_default = 24 * 3_600_000
"""``BOLT_PEER_LOG_RETENTION_MS``: a peer gone longer than this stops holding the log
(it gets a full sync when it comes back)."""
stability_reports_pending_max = 64
"""Stability reports kept per peer until the local vector covers them
(past that the newest replaces the last, which only delays collection)."""
tombstone_gc_interval_ms = 1_000
"""How often a cluster node collects the tombstones that became causally
stable (a round is skipped when nothing was applied and nothing became stable)."""
tombstone_gc_slice_keys = 2_000
"""Keys a collection round looks at before it lets other tasks run."""
tombstone_gc_full_scan_interval_ms = 300_000
"""Between rounds that look at every key (the first round after start is one);
the others look only at the keys that got tombstones since, and at those
still waiting once the stable HLC has passed the oldest of them."""

# --- blocking pops (BLPOP/BRPOP) --------------------------------------------
blocking_pop_wait_ms_max = 10_000
"""Longest one BLPOP/BRPOP holds a Bolt-port connection (a timeout of 0 or above
it waits this long); clients repeat it to wait longer. The RESP port follows
Redis: a timeout of 0 waits until an element or a disconnect."""
blocking_pop_slice_ms = 1_000
"""A blocked pop re-checks its lists and server shutdown at least this often
(a wake-up from the change feed normally comes first)."""
blocking_feed_records_max = 10_000
"""Records the blocking-pop service may hold unread before the feed drops it
(it then wakes every waiter to look again)."""
blocking_service_check_ms = 100
"""How often the blocking-pop service checks for a server shutdown."""

# --- RESP transactions (MULTI/EXEC) ------------------------------------------
resp_multi_commands_max = 10_000
"""Most commands one RESP ``MULTI`` may queue; one more fails the transaction."""
resp_watch_keys_max = 10_000
"""Most keys one RESP session may ``WATCH`` at once; more are refused."""
