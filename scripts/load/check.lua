-- wrk script for scripts/load.sh: sends PATH with the tokens of TOKENS_FILE in turn (one per
-- line) and counts every response whose status is not EXPECT as a wrong answer.
--   wrk ... -s scripts/load/check.lua URL -- PATH EXPECT TOKENS_FILE
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  path, expect = args[1], tonumber(args[2])
  tokens = {}
  for line in io.lines(args[3]) do
    if line ~= "" then table.insert(tokens, line) end
  end
  -- Threads start at different tokens, so that every token is in use from the start.
  next_token = (#threads * 7) % #tokens
  wrong, statuses = 0, {}
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[next_token] })
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= expect then wrong = wrong + 1 end
end

function done(summary, latency, requests)
  local wrong_total, by_status = 0, {}
  for _, thread in ipairs(threads) do
    wrong_total = wrong_total + thread:get("wrong")
    for status, n in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(by_status) do table.insert(parts, status .. "=" .. n) end
  table.sort(parts)
  io.write(string.format(
    "RESULT requests=%d seconds=%.1f rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d wrong=%d statuses=%s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    wrong_total, table.concat(parts, ",")))
end
