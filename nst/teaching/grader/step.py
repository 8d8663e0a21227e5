"""train_step's check: two real steps of the learner's ``train_step`` on the notebook's image.

J must be a finite scalar float tensor, the image must change, and the second J must be lower than
the first. That alone a fake step could pass (return 2, then 1, and nudge the image), so given the
notebook's images the check also measures the exercise's cost of each image itself (``anchor``):
each J must be that cost, so the step lowers the true cost. ``nst grade`` always measures, reading
the images from the submission's kernel, and starts the step from an image drawn from its secret
seed; the notebook's check cell measures when it is given ``content_image`` and ``style_image``.
Since J is the exercise's cost, a wrong cost function fails train_step too, as a wrong layer cost
fails compute_style_cost: the message names the cost functions to fix first.
"""

import numpy as np

from nst.config import NOISE_RATIO
from nst.teaching.compute import Local
from nst.teaching.grader.anchor import ANCHOR_RTOL, ReferenceCost, notebook_images
from nst.teaching.grader.calls import expect_scalar, returned, shape_text, unreadable
from nst.teaching.grader.driver import Check, close
from nst.teaching.grader.results import Mistake
from nst.teaching.wire import WireError, array, encode

FLOATS = ("float16", "bfloat16", "float32", "float64")  # J in the dtype training runs in
_STEP_HINT = (
    "Hint: with tf.GradientTape() as tape: a_G = vgg_model_outputs(generated_image); J_content = "
    "compute_content_cost(a_C, a_G[CONTENT_LAYER]); J_style = compute_style_cost(a_S, a_G, STYLE_LAYERS); "
    "J = total_cost(J_content, J_style, alpha=10, beta=40); then the gradient and one Adam step; return J."
)


def _notebook_arrays(check, names):
    """The notebook's values of ``names`` as NumPy arrays (None for what is not an array), asked of the computer."""
    reply = check.computer.ask({"kind": "globals", "names": list(names)})
    found = reply.get("globals") if isinstance(reply, dict) else None
    if not isinstance(found, dict):
        raise unreadable(check.name, "no globals")
    arrays = {}
    for name in names:
        try:
            arrays[name] = array(found[name]["array"]) if "array" in (found.get(name) or {}) else None
        except (WireError, TypeError) as err:
            raise unreadable(check.name, str(err)) from None
    return arrays


def _yardstick(check, hidden):
    """The exercise's cost of an image for this notebook (``anchor.ReferenceCost``), a start image from ``hidden``."""
    found = _notebook_arrays(check, ("generated_image", "content_image", "style_image"))
    generated = found["generated_image"]
    images = notebook_images(
        found["content_image"], found["style_image"], None if generated is None else generated.shape
    )
    if images is None:
        what = "not defined" if generated is None else f"of shape {shape_text(generated.shape)}"
        raise Mistake(
            f"generated_image is {what}, not an image of shape (1, H, W, 3) (H and W at least 32), so train_step "
            "could not be checked against the exercise's cost.\nHint: keep the notebook's generated_image = "
            "tf.Variable(generate_noise_image(content_image, ...)).",
            "not-an-image",
        )
    from nst.images import generate_noise_image

    start = None if hidden is None else generate_noise_image(images[0], NOISE_RATIO, seed=hidden.seed)
    return ReferenceCost(*images), start


def _wrong_cost(J, measured, which, failed):
    """The Mistake for a step whose J is not the exercise's cost of the image it was given."""
    message = (
        f"At its {which} call train_step returned J = {J:.7g}, but the exercise's cost of the image it was given is "
        f"{measured:.7g} (J = alpha·J_content + beta·J_style from a_C, a_S and STYLE_LAYERS, alpha=10, beta=40)."
    )
    if failed:
        they = "it" if len(failed) == 1 else "them"
        message += f" {', '.join(failed)} failed {'its' if len(failed) == 1 else 'their'} own check: fix {they} first."
    return Mistake(f"{message}\n{_STEP_HINT}", "wrong-cost")


def _unchanged(J):
    """The Mistake for a step that returned J but left the image as it was."""
    return Mistake(
        f"train_step returned J = {J:.7g}, but generated_image did not change: the step never applies the gradient "
        "to the image.\nHint: grad = tape.gradient(J, generated_image), then let the optimizer apply it: "
        "optimizer.apply_gradients([(grad, generated_image)]) (a Keras optimizer) or optimizer.apply(grad) "
        "(nst.adam.Adam).",
        "never-applies-gradient",
    )


def _not_lower(J_first, J_second):
    """The Mistake for a second step whose J is not below the first one's."""
    return Mistake(
        f"train_step changes the image, but J did not go down: {J_first:.7g} at the first call, {J_second:.7g} at the "
        "second. The step probably moves the image up the gradient (adds it instead of subtracting), or not along "
        "the gradient of J at all.\nHint: grad = tape.gradient(J, generated_image); optimizer.apply_gradients([(grad, "
        "generated_image)]): the optimizer subtracts it for you.",
        "cost-not-decreasing",
    )


def judge_train_step(computer, hidden=None, measure=False, failed=()):
    """Judge ``train_step(generated_image)``: two real steps on the notebook's ``generated_image``.

    J must be a finite scalar float tensor, the image must change, and the second J must be lower
    than the first. With ``measure``, the check also computes the exercise's cost of the images
    itself (``anchor``): each J must be that cost, so the step lowers the true cost; ``failed``
    names the cost functions that failed their checks, for the message. With ``hidden``, the first
    step starts from an image drawn from its seed, set into generated_image.
    """
    name = "train_step"
    hint = "if it says 'No gradients provided', J was computed outside the GradientTape or with NumPy."
    check = Check(name, computer, call_hint=hint)

    def step(start):
        image = None if start is None else encode(start)
        reply = check.ask("train_step", variable="generated_image", image=image)
        if "not_variable" in reply:
            raise Mistake(
                f"check_train_step needs the generated image as a tf.Variable, got a {reply['not_variable']}"
                ": train_step updates it in place.\nHint: generated_image = tf.Variable(generated_image).",
                "not-a-variable",
            )
        J = expect_scalar(name, returned(name, reply, "generated_image", hint), "generated_image", FLOATS)
        try:
            before, after = array(reply["before"]), array(reply["after"])
        except (WireError, KeyError) as err:
            raise unreadable(name, str(err)) from None
        return J, before if start is None else start.astype(np.float64), after

    def steps():
        cost, start = _yardstick(check, hidden) if measure else (None, None)
        J_first, before, after = step(start)
        if after.shape != before.shape or not np.all(np.isfinite(after)):
            raise Mistake(
                f"After one call of {name} the image holds NaN or infinite pixels.\n"
                "Hint: check the costs for NaN, and the learning rate.",
                "not-finite",
            )
        if np.array_equal(before, after):
            raise _unchanged(J_first)
        if cost is not None and not close(J_first, measured := cost(before), ANCHOR_RTOL):
            raise _wrong_cost(J_first, measured, "first", failed)
        J_second, _, _ = step(None)
        if not J_second < J_first:
            raise _not_lower(J_first, J_second)
        if cost is not None and not close(J_second, measured := cost(after), ANCHOR_RTOL):
            raise _wrong_cost(J_second, measured, "second", failed)

    return check.run(steps, quiet=True)


def check_train_step(train_step, generated_image, content_image=None, style_image=None, quiet=False):
    """Check a learner's ``train_step(generated_image)``: two real steps; print and return a CheckResult.

    ``generated_image`` is the tf.Variable (1, H, W, 3) the step updates in place; the step returns J.
    The check calls it twice: J must be a finite scalar float tensor, the image must change, and the
    second J must be lower than the first. Given the notebook's ``content_image`` and ``style_image``,
    it also measures the exercise's cost of the images itself: each J must be it. The image (and the
    optimizer's state) keep those two steps.
    """
    namespace = {"train_step": train_step, "generated_image": generated_image}
    measure = content_image is not None and style_image is not None
    namespace.update(content_image=content_image, style_image=style_image)
    result = judge_train_step(Local(namespace), measure=measure)
    if not quiet:
        print(result.message)
    return result
