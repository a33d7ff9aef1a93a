-- wrk script for bench/proxy.ts: the same SCIM create that bench/lib/load.ts sends.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer token-benchmark"
wrk.body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@contoso.example","externalId":"ada","active":true,"displayName":"Ada Lovelace","password":"not-a-real-password"}'
