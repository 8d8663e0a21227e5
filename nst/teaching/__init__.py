"""Teaching with nst: the student edition of the notebook, and grading what students hand in.

- ``exercise``  the student edition, written from the solution notebook (``nst exercise``)
- ``grader``    the checks that name a learner's mistake, run after each graded function
- ``grade``     a submitted notebook run and graded (``nst grade``), agreeing with nbgrader
"""
