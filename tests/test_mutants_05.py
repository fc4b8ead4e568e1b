"""Assignment 05 (IDFD): wrong submissions, graded by nbgrader.

FD with the rows normalised instead of the columns, a memory-bank update
without re-normalisation or with the momentum weights swapped or done in place, instance
discrimination with the softmax over the batch, FD summed over the features, Parts 1-3
answered by the library, and training steps that skip the L2 normalisation, update the bank
before scoring against it or with a second forward pass each lose exactly their parts; harmless
variations keep full marks.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import pytest
from helpers_nb import (
    grade_mutants,
    mutate,
    scores,
    with_solution,
)

pytestmark = pytest.mark.slow

A05 = "05_idfd"
FULL_05 = {"id-tests": 3, "update-tests": 3, "fd-tests": 3, "step-tests": 2}

# Part 1 as on the slides: the softmax over the batch, the batch's own features as classes
BATCH_ID_LOSS = '''def id_loss(v, bank, idx, tau=1.0):
    return F.cross_entropy(v @ v.T / tau, torch.arange(len(v)))
'''
# Part 1 over the batch's own memory-bank entries only (m classes instead of N)
BATCH_ENTRIES_ID_LOSS = '''def id_loss(v, bank, idx, tau=1.0):
    return F.cross_entropy(v @ bank.detach()[idx].T / tau, torch.arange(len(v)))
'''
# Parts 1-3 answered with the library's reference code
LIBRARY_ID_LOSS = '''from dcteach.losses import instance_discrimination_loss


def id_loss(v, bank, idx, tau=1.0):
    return instance_discrimination_loss(v, bank, idx, tau)
'''
LIBRARY_UPDATE = '''from dcteach.nn import MemoryBank


def update_bank(bank, idx, v, momentum=0.5):
    memory = MemoryBank(len(bank), bank.shape[1], momentum)
    memory.vectors = bank.detach().clone()
    memory.update(idx, v)
    return memory.vectors
'''
LIBRARY_FD_LOSS = '''import dcteach.losses as reference


def fd_loss(v, tau2=2.0):
    return reference.feature_decorrelation_loss(v, tau2)
'''
# Part 2 in place: right values, but the caller's bank is overwritten
IN_PLACE_UPDATE = '''def update_bank(bank, idx, v, momentum=0.5):
    with torch.no_grad():
        bank[idx] = F.normalize(momentum * bank[idx] + (1 - momentum) * v, dim=1)
    return bank
'''
STEP_SIGNATURE = ("def idfd_step(model, optimizer, x, idx, bank, tau=1.0, tau2=2.0, alpha=1.0,\n"
                  "              momentum=0.5):\n")
# Part 4 that updates the bank first and scores the batch against the updated bank
BANK_FIRST_STEP = STEP_SIGNATURE + '''    v = F.normalize(model(x), dim=1)
    new_bank = update_bank(bank, idx, v, momentum)
    l_id = id_loss(v, new_bank, idx, tau)
    l_fd = fd_loss(v, tau2)
    optimizer.zero_grad()
    (l_id + alpha * l_fd).backward()
    optimizer.step()
    return new_bank, {"id": l_id.item(), "fd": l_fd.item()}
'''
# Part 4 that updates the bank with features from a second forward pass, after the step
SECOND_FORWARD_STEP = STEP_SIGNATURE + '''    v = F.normalize(model(x), dim=1)
    l_id = id_loss(v, bank, idx, tau)
    l_fd = fd_loss(v, tau2)
    optimizer.zero_grad()
    (l_id + alpha * l_fd).backward()
    optimizer.step()
    with torch.no_grad():
        v_after = F.normalize(model(x), dim=1)
    return update_bank(bank, idx, v_after, momentum), {"id": l_id.item(), "fd": l_fd.item()}
'''


def build_submissions(solution):
    """Assignment 05 submissions, graded in one autograde run. Part 4 is graded with the
    reference Parts 1-3, so no bug in them may cost it.

    a: FD with the rows normalised instead of the columns. b: a bank update without the
    re-normalisation. c: ID with the softmax over the batch (the slides' version). d: Parts 1-3
    answered with the library's instance_discrimination_loss, MemoryBank and
    feature_decorrelation_loss. e: a step that never L2-normalises the features. f: a step that
    updates the bank before scoring the batch against it. g: a step that updates the bank with
    the features of a second forward pass after the optimiser step. h: three more bugs, one per
    part: ID over the batch's own bank entries, the momentum weights swapped, FD summed over the
    features. i: a bank update in place (right values, the caller's bank overwritten).
    j: harmless variations that must keep full marks: ID that normalises v again, FD with
    F.normalize, a step that adds the losses in the other order.
    To keep the test short, the single-part bugs a, b, c and i ride in the submissions e, f and
    g (each part still has one bug per submission), so eight bugs need six notebook runs."""
    cols = "v.norm(dim=0, keepdim=True)"
    renorm = "new[idx] = mixed / mixed.norm(dim=1, keepdim=True).clamp_min(1e-12)"
    mix = "momentum * new[idx] + (1 - momentum) * v.detach()"
    target = "torch.arange(gram.shape[0], device=v.device))"
    normalise = "v = F.normalize(model(x), dim=1)"
    total = "(l_id + alpha * l_fd).backward()"

    a = mutate(solution, "fd-solution", cols, "v.norm(dim=1, keepdim=True)")
    b = mutate(solution, "update-solution", renorm, "new[idx] = mixed")
    i = with_solution(solution, "update-solution", IN_PLACE_UPDATE)
    d = with_solution(solution, "id-solution", LIBRARY_ID_LOSS)
    d = with_solution(d, "update-solution", LIBRARY_UPDATE)
    d = with_solution(d, "fd-solution", LIBRARY_FD_LOSS)
    e = mutate(a, "step-solution", normalise, "v = model(x)")  # + a's FD bug
    e = with_solution(e, "id-solution", BATCH_ID_LOSS)           # + c's ID bug
    f = with_solution(b, "step-solution", BANK_FIRST_STEP)      # + b's update bug
    g = with_solution(i, "step-solution", SECOND_FORWARD_STEP)  # + i's update bug
    h = with_solution(solution, "id-solution", BATCH_ENTRIES_ID_LOSS)
    h = mutate(h, "update-solution", mix, "(1 - momentum) * new[idx] + momentum * v.detach()")
    h = mutate(h, "fd-solution", target, target[:-1] + ', reduction="sum")')
    j = mutate(solution, "id-solution", "    logits = v @", "    v = F.normalize(v, dim=1)\n"
                "    logits = v @")
    j = mutate(j, "fd-solution", f"f = v / {cols}.clamp_min(1e-12)", "f = F.normalize(v, dim=0)")
    j = mutate(j, "step-solution", total, "(alpha * l_fd + l_id).backward()")
    return [("d_library", d), ("e_raw_features_fd_rows_batch_softmax", e),
            ("f_bank_first_no_renorm", f), ("g_second_forward_in_place", g),
            ("h_three_bugs", h), ("j_harmless", j)]


@pytest.fixture(scope="module")
def idfd_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A05, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("d_library", ("id-tests", "update-tests", "fd-tests")),
    ("e_raw_features_fd_rows_batch_softmax", ("step-tests", "fd-tests", "id-tests")),
    ("f_bank_first_no_renorm", ("step-tests", "update-tests")),
    ("g_second_forward_in_place", ("step-tests", "update-tests")),
    ("h_three_bugs", ("id-tests", "update-tests", "fd-tests")),
    ("j_harmless", ()),
])
def test_05_each_bug_costs_only_its_part(idfd_mutants, student, lost):
    assert scores(idfd_mutants, student, A05) == {**FULL_05, **dict.fromkeys(lost, 0)}
