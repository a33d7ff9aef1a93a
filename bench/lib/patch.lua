-- wrk script for bench/replicas.ts: Entra's PATCH of a user's attributes (the 2017 default dialect, as
-- test/fixtures/entra.ts patch2017Update), each request on the next of 5,000 users, so that derivation sees a
-- tenant's worth of identities rather than one row updated over and over.
local users = 5000
local n = 0
local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
  '{"op":"Replace","path":"displayName","value":"Ada King"},' ..
  '{"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"ada.king@example.com"},' ..
  '{"op":"Replace","path":"name.familyName","value":"King"},' ..
  '{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"1816"}]}'
local headers = {
  ["Content-Type"] = "application/scim+json",
  ["Authorization"] = "Bearer token-benchmark",
}

request = function()
  n = n + 1
  local id = string.format("%08x-5b1e-4a6d-9c2f-2a1e4b6c8d0e", n % users)
  return wrk.format("PATCH", "/scim/v2/Users/" .. id, headers, body)
end
