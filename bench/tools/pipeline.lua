-- wrk script: 16 GET / requests pipelined in one write, each response counted.
local depth = 16
init = function(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
