-- One ~1 KB event per request, each with a messageId of its own (/v1/track and the ceiling).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function request()
  return wrk.format(nil, nil, nil, next_event())
end
