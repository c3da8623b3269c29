-- wrk script: POST /api/licenses/validate with a key picked at random from a file (one a line).
-- Usage: wrk -s bench/validate.lua URL -- KEYS_FILE
local keys = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then keys[#keys + 1] = line end
  end
  math.randomseed(os.time() + #keys)
end

function request()
  local key = keys[math.random(#keys)]
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"licenseKey":"' .. key .. '"}')
end
