/**
 * The guard's decisions in Lua, so each read-modify-write runs atomically inside Redis and
 * several instances share one view.
 *
 * This is a line-by-line mirror of bucket.ts, flood.ts, penalty.ts and decide.ts: same
 * operations in the same order on the same integers (Lua numbers are IEEE doubles like JS
 * numbers, and every value here is an integer below 2^53), so both give identical verdicts;
 * test/guard/redis-store.test.ts checks that on random sequences. Change one, change both.
 *
 * Records are hashes; fields (absent = never seen):
 *   bl, bt  bucket level (1/60_000 tokens) and time (ms)        ip and agent keys
 *   f       flood log: comma-separated ms timestamps            ip key
 *   pu, ps, pk  ban until (ms), strikes, label ('c'ooldown | 'b'anned)   ip key
 * Each write sets the key to expire when the record turns stale (equal to "never seen"), so
 * Redis holds nothing for an address that went quiet.
 *
 * ARGV (all scripts): now, ratePerMinute, burst, floodMax, floodWindowMs, cooldownMs,
 * floodBlockMs, banMaxMs, strikeWindowMs, minTtlMs[, penalize 0|1]. Replies are arrays of
 * integers, decoded in redis-store.ts.
 */

/** Reply codes shared with redis-store.ts. */
export const REASON_CODES = ['', 'cooldown', 'banned', 'flood', 'rate_limited', 'automated_tool'] as const;

const PRELUDE = `
local UNIT = 60000
local MAX_STRIKES = 64
local now = tonumber(ARGV[1])
local L = {
  rate = tonumber(ARGV[2]), burst = tonumber(ARGV[3]),
  floodMax = tonumber(ARGV[4]), floodWindow = tonumber(ARGV[5]),
  cooldown = tonumber(ARGV[6]), floodBlock = tonumber(ARGV[7]),
  banMax = tonumber(ARGV[8]), strikeWindow = tonumber(ARGV[9]),
  minTtl = tonumber(ARGV[10]),
}

-- bucket.ts takeToken: returns ok, level, updated, retryAfterMs
local function take(level, updated)
  local cap = L.burst * UNIT
  if level == nil then
    level = cap
    updated = now
  else
    local elapsed = math.max(0, now - updated)
    level = math.min(cap, level + elapsed * L.rate)
    updated = math.max(updated, now)
  end
  if level >= UNIT then return true, level - UNIT, updated, 0 end
  return false, level, updated, math.ceil((UNIT - level) / L.rate)
end

-- flood.ts countRequest: returns flood, kept timestamps
local function count(log)
  local since = now - L.floodWindow
  local kept = {}
  for _, t in ipairs(log) do
    if t > since then kept[#kept + 1] = t end
  end
  kept[#kept + 1] = now
  if #kept > L.floodMax then return true, {} end
  return false, kept
end

-- penalty.ts ban: updates r's pu/ps/pk when it starts a ban; returns fresh, until, strikes, label
local function ban(r, cause)
  if r.pu ~= nil and r.pu > now then return false, r.pu, r.ps, r.pk end
  local base = L.floodBlock
  if cause == 'credential' then base = L.cooldown end
  if base == 0 then return false, now, 0, 'c' end
  local strikes = 1
  if r.pu ~= nil and now - r.pu < L.strikeWindow then strikes = math.min(r.ps + 1, MAX_STRIKES) end
  local duration = math.min(base * 2 ^ (strikes - 1), L.banMax)
  local untilAt = now + duration
  local label = 'b'
  if cause == 'credential' and strikes == 1 then label = 'c' end
  r.pu = untilAt; r.ps = strikes; r.pk = label
  return true, untilAt, strikes, label
end

local function int(n) return string.format('%d', n) end

local function load_ip(key)
  local v = redis.call('HMGET', key, 'bl', 'bt', 'f', 'pu', 'ps', 'pk')
  local log = {}
  if v[3] then
    for t in string.gmatch(v[3], '[^,]+') do log[#log + 1] = tonumber(t) end
  end
  return {
    bl = tonumber(v[1]), bt = tonumber(v[2]), log = log,
    pu = tonumber(v[4]), ps = tonumber(v[5]), pk = v[6] or nil,
  }
end

-- decide.ts ipStaleAt / agentStaleAt, then store or drop the record.
local function save(key, r)
  local stale = nil
  local fields = {}
  if r.bl ~= nil then
    stale = r.bt + math.ceil((L.burst * UNIT - r.bl) / L.rate)
    fields[#fields + 1] = 'bl'; fields[#fields + 1] = int(r.bl)
    fields[#fields + 1] = 'bt'; fields[#fields + 1] = int(r.bt)
  end
  if r.log ~= nil then
    if #r.log > 0 then
      local last = r.log[1]
      local parts = {}
      for i, t in ipairs(r.log) do
        if t > last then last = t end
        parts[i] = int(t)
      end
      stale = math.max(stale or last + L.floodWindow, last + L.floodWindow)
      fields[#fields + 1] = 'f'; fields[#fields + 1] = table.concat(parts, ',')
    else
      redis.call('HDEL', key, 'f')
    end
  end
  if r.pu ~= nil then
    stale = math.max(stale or r.pu + L.strikeWindow, r.pu + L.strikeWindow)
    fields[#fields + 1] = 'pu'; fields[#fields + 1] = int(r.pu)
    fields[#fields + 1] = 'ps'; fields[#fields + 1] = int(r.ps)
    fields[#fields + 1] = 'pk'; fields[#fields + 1] = r.pk
  end
  if stale == nil or stale <= now then
    redis.call('DEL', key)
    return
  end
  if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
  -- Keeping a stale record a little longer changes no decision (stale = never seen).
  redis.call('PEXPIRE', key, int(math.max(stale - now, L.minTtl)))
end

local REASON = { c = 1, b = 2 }
`;

/** Reply: ok, status, reason, retryAfterMs, banFresh, banUntil, banStrikes, banLabel (1 c, 2 b). */
const GATE = `
-- decide.ts gate: the ban check, then the flood rule. Returns a reply or nil (passed).
local function gate(r, automated)
  if r.pu ~= nil and r.pu > now then
    local reason = REASON[r.pk]
    if automated then reason = 5 end
    return { 0, 403, reason, r.pu - now, 0, 0, 0, 0 }
  end
  local flood, kept = count(r.log)
  r.log = kept
  if not flood then return nil end
  local fresh, pu, ps, pk = ban(r, 'flood')
  return { 0, 403, 3, pu - now, fresh and 1 or 0, pu, ps, REASON[pk] }
end
`;

/** decide.ts decideHit. KEYS: ip record. */
export const HIT_LUA = `${PRELUDE}${GATE}
local key = KEYS[1]
local r = load_ip(key)
local reply = gate(r, false)
if reply == nil or reply[3] == 3 then save(key, r) end
return reply or { 1, 0, 0, 0, 0, 0, 0, 0 }
`;

/** decide.ts decideAttempt. KEYS: ip record, agent record. ARGV[11]: penalize 0|1. */
export const ATTEMPT_LUA = `${PRELUDE}${GATE}
local key, agentKey = KEYS[1], KEYS[2]
local penalize = ARGV[11] == '1'
local r = load_ip(key)
local a = redis.call('HMGET', agentKey, 'bl', 'bt')
local ipOk, ipLevel, ipAt, ipRetry = take(r.bl, r.bt)
local agOk, agLevel, agAt = take(tonumber(a[1]), tonumber(a[2]))
save(agentKey, { bl = agLevel, bt = agAt })
r.bl = ipLevel; r.bt = ipAt
local reply = gate(r, not agOk)
if reply ~= nil then
  save(key, r)
  return reply
end
if not ipOk then
  save(key, r)
  local reason = 4
  if not agOk then reason = 5 end
  return { 0, 429, reason, ipRetry, 0, 0, 0, 0 }
end
if not penalize then
  save(key, r)
  return { 1, 0, 0, 0, 0, 0, 0, 0 }
end
local fresh, pu, ps, pk = ban(r, 'credential')
save(key, r)
return { 1, 0, 0, 0, fresh and 1 or 0, pu, ps, REASON[pk] }
`;

/** decide.ts decidePenalty. KEYS: ip record. Reply: fresh, until, strikes, label. */
export const PENALIZE_LUA = `${PRELUDE}
local key = KEYS[1]
local r = load_ip(key)
local fresh, pu, ps, pk = ban(r, 'credential')
save(key, r)
return { fresh and 1 or 0, pu, ps, REASON[pk] }
`;
