-- BENCH_BATCH_SIZE events of ~1 KB per request, each with a messageId of its own (/v1/batch).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local size = tonumber(os.getenv("BENCH_BATCH_SIZE"))
local sent_at = os.getenv("BENCH_SENT_AT")

function request()
  local events = {}
  for i = 1, size do
    events[i] = next_event()
  end
  local body = '{"batch":[' .. table.concat(events, ",") .. '],"sentAt":"' .. sent_at .. '"}'
  return wrk.format(nil, nil, nil, body)
end
