"""Front ends: the ways people drive nst, each handing the engine an ``Options``.

- ``cli``     the ``nst`` command (``nst train``, ``nst app``, ``nst batch``, ...)
- ``studio``  nst studio, style transfer in the browser (``nst app``, Gradio)
- ``batch``   many runs at once on Ray (``nst batch``)
- ``video``   a clip in the style of a painting, steady from frame to frame (``nst video``)

No front end imports another (a contract in pyproject.toml).
"""
