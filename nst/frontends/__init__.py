"""Front ends: the ways people drive nst, each handing the engine an ``Options``.

- ``cli``     the ``nst`` command (``nst train``, ``nst app``, ``nst batch``, ...)
- ``studio``  nst studio, style transfer in the browser (``nst app``, Gradio)
- ``batch``   many runs at once on Ray (``nst batch``)

No front end imports another (a contract in pyproject.toml).
"""
