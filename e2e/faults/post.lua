-- wrk script of the fault suite: POST a small body (a method the gateway
-- never retries once a replica may have run it) and print one parseable
-- summary line. Failures: read, write and timeout errors (a request sent and
-- not answered) and non-2xx/3xx statuses; connect errors are connections
-- refused before any request was sent (wrk reconnects). Each failed status
-- is also printed with the second it came back in (at most 20 lines a
-- thread), so a test can tell when failures happened.
wrk.method = "POST"
wrk.body = "fault"
wrk.headers["Content-Type"] = "text/plain"

local printed = 0

response = function(status, headers, body)
	if status >= 400 and printed < 20 then
		printed = printed + 1
		io.write(string.format("FXFAIL t=%d status=%d\n", os.time(), status))
	end
end

done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"FXLOAD requests=%d connect=%d read=%d write=%d timeout=%d status=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
		summary.requests, e.connect, e.read, e.write, e.timeout, e.status,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
