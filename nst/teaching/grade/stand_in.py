"""What ``import nst.teaching.grader`` finds inside ``nst grade``'s sandbox: check functions that only say so.

The real grader holds nst's own answers to the exercise (its reference formulas), so a graded
kernel never gets it: ``nst grade`` checks each function from outside the kernel. The notebook's
check cells still run there, and its setup cell still imports ``nst.teaching.grader``; this module,
put in the grader's place in the sandbox's copy of nst, lets them run and says where the checking
happens. Their ``.points`` are None: the grade comes from outside.
"""

GRADED = (
    "compute_content_cost",
    "gram_matrix",
    "compute_layer_style_cost",
    "compute_style_cost",
    "total_cost",
    "train_step",
)


class Outside:
    """The result of a check cell inside the sandbox: no points here, the judge outside gives them."""

    passed = None
    points = None

    def __init__(self, name):
        self.function = name
        self.message = f"{name}: nst grade checks it from outside this kernel"

    def __str__(self):
        return self.message


def _outside(name):
    def check(*args, **kwargs):
        print(Outside(name).message)
        return Outside(name)

    check.__name__ = f"check_{name}"
    return check


CHECKS = {name: _outside(name) for name in GRADED}
globals().update({f"check_{name}": check for name, check in CHECKS.items()})
