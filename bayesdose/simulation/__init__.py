"""Simulation studies: scenarios, designs driven through one interface, operating characteristics.

Modules: ``scenarios`` (true DLT rates, true MTD), ``interface`` (the design interface and trial
states), ``statespace`` (interned trial states with cached decisions and transitions),
``blrm`` and ``three_plus_three`` (designs), ``registry`` (design names), ``patients`` (common
random numbers), ``runner`` (lockstep simulation), ``exact`` (exact operating characteristics),
``optimal`` (the nonparametric optimal benchmark), ``metrics`` (operating characteristics),
``study`` (scenarios x designs), ``executors`` (local processes or a Dask cluster), ``chunks``
(chunk files written as they finish, for ``--resume``) and ``output`` (summary.json, results.nc,
table). With time: ``timeline`` (arrival and DLT days), ``timedstates`` (states on a date,
decisions cached by state), ``timedrunner`` (lockstep simulation in time), ``tite_blrm``,
``tite_crm`` and ``waiting`` (designs in time) and ``withtime`` (studies with time).
"""
