x = 1
function f(v)
  output("a", = v)
end
