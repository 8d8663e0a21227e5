"""Winograd's transform matrices F(m x m, 3x3) from their interpolation points (Toom-Cook).

A 1-D convolution of m outputs with an r = 3 tap kernel g is a product of polynomials: the
outputs are coefficients of d(x)·g(x). Evaluating both at n = m + r − 1 points, multiplying the
n values pairwise and interpolating back gives all m outputs with n multiplications instead of
m·r. With finite points p_0 … p_{n−2} and the point at infinity (the leading coefficient):

    Aᵀ (m, n)   Aᵀ[k, i] = p_i^k                     (the last column: 1 in row m − 1)
    G  (n, 3)   G[i]     = (1, p_i, p_i²) / N_i,      N_i = Π_{j≠i} (p_i − p_j)   (the last row: 0, 0, 1)
    Bᵀ (n, n)   Bᵀ[i]    = coefficients of Π_{j≠i} (x − p_j)   (the last row: of Π_j (x − p_j))

and y = Aᵀ [(G g) ⊙ (Bᵀ d)] for an n-pixel input d; in 2-D, Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A.
All coefficients are computed exactly (fractions), then given as float64.

The points decide the float32 rounding: the entries of Aᵀ and Bᵀ grow with them, and so does the
error of the transforms. ``POINTS`` are nst's choices:

- F(4x4, 3x3): 0, ±1, ±2 (the usual ones, Lavin & Gray 2016).
- F(6x6, 3x3): 0, ±1, ±2, ±1/2. Dyadic points keep every entry of Aᵀ and Bᵀ exact in float32
  (Bᵀ's are multiples of 1/4 up to 5.25), so only the sums round; the reciprocal pairs 2, 1/2 keep
  the powers in Aᵀ between 1/32 and 32. Chosen by measurement (float32 against float64, ReLU
  inputs, 36x36, 128 → 128 channels): of all 56 sets 0, ±a, ±b, ±c with a, b, c from 1/4, 1/2,
  3/4, 1, 3/2, 2, 3, 4, this one erred least, 1.6e-5 relative to the output's largest value (F(4x4)'s
  0, ±1, ±2: 8e-6); 0, ±1, ±3/2, ±1/2 1.7e-5, 0, ±1, ±2, ±3 3.6e-5, 0, ±2, ±3, ±4 0.34.
"""

import math
from fractions import Fraction

import numpy as np

R = 3  # the kernel's taps: VGG's 3x3 convolutions
POINTS = {4: (0, 1, -1, 2, -2), 6: (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))}


def _times(a, b):
    """The product of two polynomials given by their coefficients, lowest power first."""
    product = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            product[i + j] += x * y
    return product


def _from_roots(roots):
    """Coefficients (lowest power first) of Π (x − root)."""
    polynomial = [Fraction(1)]
    for root in roots:
        polynomial = _times(polynomial, [-root, Fraction(1)])
    return polynomial


def matrices(m, points=None):
    """(Aᵀ (m, n), G (n, 3), Bᵀ (n, n)) of F(m, 3) for ``points`` (n − 1 distinct finite ones; ``POINTS[m]``)."""
    p = [Fraction(x) for x in (POINTS[m] if points is None else points)]
    n = m + R - 1
    if len(p) != n - 1 or len(set(p)) != len(p):
        raise ValueError(f"F({m}, {R}) needs {n - 1} distinct finite points, not {points}")
    A_T = [[x**k for x in p] + [Fraction(k == m - 1)] for k in range(m)]
    G, B_T = [], []
    for i, x in enumerate(p):
        others = p[:i] + p[i + 1 :]
        N = math.prod(x - y for y in others)
        G.append([x**k / N for k in range(R)])
        B_T.append(_from_roots(others) + [Fraction(0)])  # degree n − 2: pad to n coefficients
    G.append([Fraction(0)] * (R - 1) + [Fraction(1)])
    B_T.append(_from_roots(p))
    return _float64(A_T), _float64(G), _float64(B_T)


def _float64(rows):
    return np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
