-- Fader curves for examples/lua-fader-curve.cfg.
--
-- Each of the console's faders in1..in8 drives out1..out8 through a square-law curve: half
-- travel gives a quarter of the level, so the low end of the fader gets finer, as many
-- dimmers and consoles do it. The grand master scales all eight.
--
-- Channels (the names the configuration maps): in1..in8 and master in, out1..out8 out.
-- A value arrives as a number from 0 to 1 (slot value / 255); output() takes the same range.

-- The curve: x² (replace it with math.sqrt(x), a table lookup, ... to taste).
local function curve(x)
	return x * x
end

-- One handler per fader, named like its channel: in1 ... in8. Inside a handler input_value()
-- still gives the channel's previous value (MIDIMonster's rule), so each uses its argument.
for n = 1, 8 do
	_G["in" .. n] = function(value)
		output("out" .. n, curve(value) * input_value("master"))
	end
end

-- The master rescales every output; it becomes input_value("master") once it returns, so
-- the faders are recomputed with the new value directly.
function master(value)
	for n = 1, 8 do
		output("out" .. n, curve(input_value("in" .. n)) * value)
	end
end
