"""nst video: a clip in the style of a painting, steady from frame to frame (Ruder, Dosovitskiy and
Brox, "Artistic style transfer for videos", 2016), from pip-installable parts only.

- ``settings``   ``Video``: the clip, its part, the temporal weight; what a preset means per frame
- ``clip``       reading clips (any file ffmpeg reads, or a folder of frames), writing the mp4 and a GIF
- ``flow``       DIS optical flow both ways, warping, reliability masks (forward–backward consistency,
                 motion boundaries)
- ``temporal``   the temporal cost, one more term of the exercise's J
- ``objective``  the objective every frame minimises, built once per clip
- ``files``      the output folder: frames, frames.csv, the record --resume checks
- ``progress``   the bar over frames and iterations
- ``run``        ``stylize(video, options)``: the clip frame by frame
- ``synthetic``  a clip whose motion is known exactly, for the tests and the benchmark

Needs the ``video`` extra (``opencv-python-headless``, ``imageio-ffmpeg``).
"""
