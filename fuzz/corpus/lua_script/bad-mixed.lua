#!/usr/bin/lua
﻿x = 3x
y = [[long
