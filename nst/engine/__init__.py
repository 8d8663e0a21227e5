"""The engine: everything a run does around the exercise's ``train_step``.

- ``options``       ``Options``: every option declared once and checked when made; its JSON record
- ``values``        one checker per kind of option value (``Size``, numbers, layers, ...)
- ``command_line``  ``nst train``'s flags, derived from the declaration
- ``run``           ``run(options)``: a whole run, what every front end calls
- ``problem``       the pictures, the sizes a coarse-to-fine run works at, a level's graph
- ``targets``       a_C, the style activations and the starting image
- ``objective``     the exercise's J(G) at one level, with the learner's cost functions if given
- ``optimizers``    Adam (the exercise's ``train_step``) and L-BFGS behind one loop
- ``lbfgs``         SciPy's L-BFGS-B, driven without per-pixel Python
- ``report``, ``outputs``, ``checkpoint``, ``animation``, ``color``, ``runtime``: progress and
  losses, the files a run writes, saving and resuming, the GIF, colour preservation, the device
"""
