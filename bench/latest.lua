-- wrk script: GET /api/releases/bench-app/latest with a license key picked at random from a
-- file (one a line) as `Authorization: License KEY`.
-- Usage: wrk -s bench/latest.lua URL -- KEYS_FILE
local keys = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then keys[#keys + 1] = line end
  end
  math.randomseed(os.time() + #keys)
end

function request()
  local key = keys[math.random(#keys)]
  return wrk.format("GET", nil, { ["Authorization"] = "License " .. key })
end
