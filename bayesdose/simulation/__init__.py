"""Simulation studies: scenarios, designs driven through one interface, operating characteristics.

The designs themselves live in ``bayesdose.designs`` (one package each, listed once in
``designs.registry``); this package runs them. Modules: ``scenarios`` (true DLT rates, true MTD),
``statespace`` (interned trial states with cached decisions and transitions), ``patients``
(common random numbers), ``runner`` (lockstep simulation), ``tree`` (exact operating
characteristics by walking the tree of trial states), ``optimal`` (the nonparametric optimal
benchmark), ``metrics`` (operating characteristics), ``study`` (scenarios x designs),
``executors`` (local processes or a Dask cluster), ``chunks`` (chunk files written as they
finish, for ``--resume``) and ``output`` (summary.json, results.nc, table). With time:
``timeline`` (arrival and DLT days), ``timedstates`` (states on a date, decisions cached by
state), ``timedrunner`` (lockstep simulation in time) and ``withtime`` (studies with time).
"""
