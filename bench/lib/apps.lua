-- wrk script for bench/apps.ts: the requests go round-robin over the first N apps' prefixes (/app-00/,
-- /app-01/, ...), so that every app gets the same share of the load. Each request is formatted once, in init.
--   wrk ... -s bench/lib/apps.lua http://127.0.0.1:<port> -- <N> <get|post>
local requests = {}
local next = 0

function init(args)
  local n = tonumber(args[1])
  local kind = args[2]
  for a = 0, n - 1 do
    local prefix = string.format("/app-%02d", a)
    if kind == "post" then
      -- the same SCIM create as bench/lib/post.lua
      requests[a + 1] = wrk.format("POST", prefix .. "/scim/v2/Users", {
        ["Content-Type"] = "application/scim+json",
        ["Authorization"] = "Bearer token-benchmark",
      }, '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@contoso.example","externalId":"ada","active":true,"displayName":"Ada Lovelace","password":"not-a-real-password"}')
    else
      requests[a + 1] = wrk.format("GET", prefix .. "/scim/v2/Users?filter=userName+eq+%22ada%40contoso.example%22", {
        ["Authorization"] = "Bearer token-benchmark",
      })
    end
  end
end

function request()
  next = next % #requests + 1
  return requests[next]
end
