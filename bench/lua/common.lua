-- Shared by every wrk script of `make bench`: the request line and headers, a number per
-- wrk thread (so that messageIds never collide), and one JSON line of results for run.py.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTHORIZATION")
-- The server runs behind a (pretend) TLS proxy, as in production.
wrk.headers["X-Forwarded-Proto"] = "https"

event_head = os.getenv("BENCH_EVENT_HEAD")
event_tail = os.getenv("BENCH_EVENT_TAIL")
run_tag = os.getenv("BENCH_RUN_TAG")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local counter = 0
function next_event()
  counter = counter + 1
  return event_head .. run_tag .. "-" .. thread_id .. "-" .. counter .. event_tail
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"latency_p50_us": %d, "latency_p99_us": %d, "latency_max_us": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
