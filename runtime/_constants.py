"""Every retry, timeout, concurrency and display default, in one place (as openai-python's
`_constants.py`): change a default here and nowhere else."""

from __future__ import annotations

DEFAULT_MAX_ATTEMPTS = 5
"""Attempts per prompt, the first one included."""
DEFAULT_BACKOFF_BASE = 0.5
"""Seconds; attempt n waits a random time up to base * 2**(n-1) (full jitter)."""
DEFAULT_BACKOFF_CAP = 30.0
"""Seconds; no backoff is longer than this."""
DEFAULT_RETRY_AFTER_CAP = 60.0
"""Seconds; a provider's `retry-after` longer than this is cut to it."""

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_FIRST_BYTE_TIMEOUT: float | None = None
"""Seconds from sending a non-streaming request to its answer's first byte (the provider writes
nothing until the whole answer is generated). None: derived per request, as long as a prompt's
prefill and a provider's queue may take (`FIRST_BYTE_FLOOR_SECONDS`) plus the time to write its
max_new_tokens at `SLOWEST_OUTPUT_TOKENS_PER_SECOND`: 62 s for 64 tokens, 290 s for 8,192, so a
hung short answer is retried in about a minute rather than at the ten-minute total."""
FIRST_BYTE_FLOOR_SECONDS = 60.0
DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds a stream may go without a byte. Providers send events at least every few seconds
while generating (Anthropic adds `ping`s), and a long prompt's prefill before the first token
takes seconds, not minutes: a minute of silence is a hang, retried at once instead of at the
total timeout."""
DEFAULT_TOTAL_TIMEOUT = 600.0
"""Seconds for a whole attempt, at least (openai-python's and Anthropic's default) ..."""
SLOWEST_OUTPUT_TOKENS_PER_SECOND = 128_000 / 3600
"""... and, when `Timeouts.total` is not given, long enough to write max_new_tokens at this
rate: total = max(DEFAULT_TOTAL_TIMEOUT, max_new_tokens / SLOWEST_OUTPUT_TOKENS_PER_SECOND).
It is Anthropic's SDK's own assumption (128,000 tokens may take an hour), so 21,333 tokens or
fewer keep 600 s and 128,000 get an hour."""
STREAM_ABOVE_TOKENS = 8192
"""`stream="auto"` streams a request allowed more output tokens than this. At the slowest rate
above that is about four minutes of generation during which a non-streaming request shows
nothing, so a hung one is found only at the total timeout; a stream's idle timeout finds it in
a minute, and a stream cut off bills what arrived instead of nothing seen. Shorter answers do
not stream: folding events costs client CPU per token, and their whole time is short anyway.
It also covers Anthropic's rule: its SDKs refuse to send unstreamed a request whose max_tokens
could take over 10 minutes at 128,000 tokens an hour (above 21,333 tokens; 8,192 for Claude Opus
4 and 4.1), and an API whose spec gives `stream.required_above` streams above that too."""
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
"""An answer (streamed or not) bigger than this is cut off with ResponseTooLargeError rather
than held in memory. The largest real answers are about 140 MB: OpenAI embeddings of 2,048
texts at 3,072 dimensions as JSON floats (about 22 bytes a float), or 128,000 output tokens with
20 top logprobs each (about 1.1 kB a token). So 256 MiB never cuts a real answer and still stops
a stream that never ends. `LLMClient(max_response_bytes=...)` changes it."""

DEFAULT_AWS_REGION = "us-east-1"
"""Bedrock's region when neither the model, the environment nor the AWS profile names one."""

BURST_SECONDS = 0.25
"""Pace, don't burst: a (provider, model) bucket sends at most this many seconds of its rate at
once, and otherwise spreads requests and tokens evenly at the rate (GCRA: a token bucket whose
capacity is this much of the rate). Providers enforce their per-minute limits over shorter
windows too (OpenAI: 6,000 RPM may be enforced as 100 a second); sending at most a quarter of a
second's share at once leaves three quarters of a one-second window as headroom for the jitter
between our send and their arrival. The rate itself, and so throughput, is the full limit."""

TIGHTEN_FACTOR = 0.8
"""A 429 the bucket did not expect (it still showed room) is evidence of a shorter window or
another user of the key: the bucket's rate is cut to this share, its burst spent, ..."""
TIGHTEN_INTERVAL_SECONDS = 1.0
"""... at most once this often, since the 429s of one burst arrive together ..."""
MIN_RATE_FACTOR = 0.25
"""... never below this share of the limit ..."""
RECOVERY_PER_SECOND = 0.01
"""... and it recovers additively: this share of the limit a second (from 0.8 to 1.0 in 20 s)."""

OVERLOAD_INTERVAL_SECONDS = 1.0
"""An overloaded answer (503, 529) halves the bucket's concurrency window at most this often;
each success widens it by one again, up to the bucket's max_concurrency (AIMD). Only the request
that got the answer backs off; the others go on."""

DEFAULT_MAX_CONCURRENCY = 256
"""Requests in flight per (provider, model) when no limit says otherwise."""
SPARE_WORKERS = 0.125
"""A job runs one worker per concurrency slot plus this share more, so prompts backing off
before a retry do not leave slots idle; a worker holds one prompt, so memory stays flat
whatever the input size."""

PROGRESS_REFRESH_SECONDS = 0.25
"""The display redraws on a timer, never per request."""
RATE_WINDOW_SECONDS = 10.0
"""The completion rate (and so the ETA, when the limiter is not what holds the job back) is
measured over this trailing window."""
SLOW_ANSWER_SECONDS = 30.0
"""The live bar counts streamed requests still without a first token after this long as slow
(a first token usually comes within seconds, even after a long prompt's prefill)."""
STALL_SECONDS = 2.0
"""With only requests in flight left and no result for this long (and for three times the job's
mean gap between results), the display says it waits on them instead of an ETA no rate gives."""
ORDERED_WINDOW = 10_000
"""`cloudburst run --ordered` holds at most this many results waiting for an earlier one, and
pulls no new prompt while it does (see `_ordered`)."""
COST_DECIMALS = 10
"""Results files round each cost (USD) to this many decimals: exact to far below a token's
price, without float noise such as 0.00007120000000000001."""

GC_YOUNG_THRESHOLD = 20_000
"""While a job runs, the collector's youngest-generation threshold is raised to this (CPython's
default is 700) and restored after: a job allocates and keeps many small objects, and the
default makes collections cost a quarter of the client's CPU at thousands of requests a second.
Objects without reference cycles are freed at once either way. 0 leaves the collector alone."""

JOURNAL_COMMIT_SECONDS = 0.05
"""The journal's writer thread commits what arrived at least this often (WAL mode; a commit
survives the process being killed). So `kill -9` loses at most the results that arrived in the
last interval plus one commit's time (a few ms); those, and the requests in flight, are sent
again on resume."""
SHUTDOWN_GRACE_SECONDS = 10.0
"""`cloudburst run` on SIGINT/SIGTERM stops pulling prompts and gives the ones in flight this
long to finish before cancelling them."""
CACHE_BUSY_TIMEOUT_SECONDS = 30.0
"""A response cache shared by processes: how long one waits for another's write lock."""
CACHE_WRITE_BATCH = 1000
"""Answers a cache commits in one transaction, at most; fewer when fewer are waiting."""
CACHE_WRITE_INTERVAL_SECONDS = 0.05
"""The cache's writer lets answers gather this long before a commit: one transaction for many
(until committed they are served from memory, and each job's end waits for them)."""
CACHE_WRITER_IDLE_SECONDS = 1.0
"""The cache's writer thread ends after this long with nothing to write (and starts again)."""
REDIS_LEASE_SECONDS = 30.0
"""A RedisLimiter's concurrency slot is a lease that expires this long after it was taken or last
renewed; each process renews its own leases every third of it while their requests run, so a
crashed holder's slots come back within this, and a request may run as long as it needs."""
REDIS_TIMEOUT_SECONDS = 5.0
"""Seconds every Redis call may take (connect included); then the limiter reports Redis as gone."""
REDIS_POLL_SECONDS = 0.05
"""A process waiting for a shared bucket asks Redis again at least this often, so a slot another
process freed is seen soon; a wait the bucket computed (the pace, a cooldown) is slept whole
when shorter."""
REDIS_JITTER = 0.1
"""Each wait is stretched by a random share up to this, so processes that were told the same
moment do not all ask again in lockstep."""
REDIS_RESERVE_BATCH = 32
"""Waiters of one bucket a process tries to reserve for in one call to Redis (first come first)."""
REDIS_STATE_TTL_SECONDS = 3600.0
"""A shared bucket Redis has not heard of for this long is forgotten, so new limits take effect."""

BATCH_HOME_ENV = "CLOUDBURST_HOME"
"""Batch jobs live in `$CLOUDBURST_HOME/batches/<id>` (default `~/.cloudburst`) unless given a
directory."""
BATCH_CHUNK_BYTES = 1 << 20
"""Batch inputs and results move between disk and the provider in chunks of this size."""
BATCH_POLL_SECONDS = 30.0
"""`BatchJob.wait` polls each part at most this often ..."""
BATCH_FIRST_POLL_SECONDS = 1.0
"""... starting this soon after submission and doubling, so a small batch that ends in
seconds is seen in seconds and a day-long one costs a poll every `BATCH_POLL_SECONDS`."""
BATCH_LOOKUP_SLACK_SECONDS = 300.0
"""A batch whose creation was cut off by a crash is looked for among those created this long
before its submission started (clock skew) and after."""

DEFAULT_UPLOAD_ABOVE_BYTES = 512 * 1024
"""FileUploadStrategy's "auto": a file at least this big goes through the provider's Files API
(once, then named by id); a smaller one inline. Inline a file costs a third more bytes than it
has, on every request that carries it; an upload costs one request before the first prompt, so
above this size an upload pays as soon as two prompts share the file."""
UPLOAD_CONCURRENCY = 8
"""Uploads in flight at once per provider (their own bucket in the client's limiter)."""
UPLOAD_REUSE_MARGIN_SECONDS = 3600.0
"""An upload remembered from an earlier run is reused only while it has this long to live, so it
outlives the job that reuses it; else the file is uploaded again."""
UPLOAD_POLL_SECONDS = 0.5
"""How often a file the provider is still processing (Gemini's PROCESSING) is asked about again."""
UPLOAD_READY_TIMEOUT_SECONDS = 600.0
"""How long a file may stay in processing before its upload counts as failed."""
FILE_DIGEST_CACHE = 4096
"""Files (by object identity) a job remembers the SHA-256 of: one read and one hash for a file
shared by any number of prompts, in bounded memory."""
FILE_ENCODED_CACHE = 8
"""Files a job keeps base64-encoded for inline sending, encoded once off the event loop."""
STREAMED_BODY_BYTES = 1024 * 1024
"""A request body this big is written to the socket in chunks, the event loop serving others in
between (aiohttp warns that one write of it "might lock the event loop")."""
INLINE_OFF_LOOP_BYTES = 256 * 1024
"""A request carrying more inline file bytes than this is encoded and serialised in a worker
thread, so the event loop keeps serving the other requests meanwhile."""
FROM_PATH_CACHE = 64
"""Files `Image.from_path` / `Document.from_path` keep as one shared object each (the most
recently used), so a file named by many prompts is read once."""

REFUSED_PER_PACK = 1000
"""Texts refused before sending (empty, too long, a bad line) that one embedding request carries
the results of at most, so a long run of them goes out at once instead of piling up."""
