"""Teaching with nst: the student edition of the notebook, and grading what students hand in.

- ``exercise``  the student edition, written from the solution notebook (``nst exercise``)
- ``grader``    the judge: the checks that name a learner's mistake, from what a function computed
- ``grade``     submitted notebooks run in sandboxed kernels and graded, one or a class (``nst grade``)
- ``compute``   what a graded kernel does for the judge: call a function, send back what came out
- ``wire``      the data between the two, read strictly
"""
