-- bench/wrk/tokens.lua at a fixed pace: each connection waits `pause` ms after each response
-- before its next request, so 10 connections send about 10 * 1000 / pause requests a second.
-- A script of its own because wrk switches to timed sends for every request as soon as the script
-- defines `delay` (even one returning 0): the unpaced cases must not pay for it.
--
-- wrk ... -s bench/wrk/paced.lua URL -- <tokens.lua's arguments...> <pause ms>
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "tokens.lua")

local pause = 1
local tokens_init = init

function init(args)
  pause = tonumber(args[6] or "1")
  tokens_init(args)
end

function delay()
  return pause
end
