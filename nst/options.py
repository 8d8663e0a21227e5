"""``nst.options.Options``: a run's options (``nst.train.run(Options(...))``), from nst's engine.

Every option of ``nst train`` is a field of ``Options``, checked when it is made; see
``nst.engine.options`` for the declaration and ``nst.engine.values`` for ``Size``.
"""

from nst.engine.options import Options
from nst.engine.values import Size

__all__ = ["Options", "Size"]
