"""``lucid.optim.lr_scheduler`` against torch's schedulers, step by step, and their state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid


class Halving:
    """A callable object: LambdaLR saves its attributes in the state dict, as torch does."""

    def __init__(self) -> None:
        self.factor = 0.5

    def __call__(self, epoch: int) -> float:
        return self.factor ** (epoch // 3)


SCHEDULERS = {
    "step": lambda S, opt: S.StepLR(opt, step_size=3, gamma=0.5),
    "lambda_linear_decay": lambda S, opt: S.LambdaLR(
        opt, lambda epoch: 1.0 - max(0, epoch - 4) / 8),
    "lambda_per_group": lambda S, opt: S.LambdaLR(opt, [lambda e: 0.9 ** e, Halving()]),
    "multistep": lambda S, opt: S.MultiStepLR(opt, milestones=[2, 5, 5, 9], gamma=0.3),
    "exponential": lambda S, opt: S.ExponentialLR(opt, gamma=0.9),
    "cosine": lambda S, opt: S.CosineAnnealingLR(opt, T_max=5, eta_min=0.01),
    "cosine_restart": lambda S, opt: S.CosineAnnealingLR(opt, T_max=3),
}


def optimizers(lr=0.1):
    """An Adam with two parameter groups in each library (the second with its own lr)."""
    ours = lucid.optim.Adam([{"params": [lucid.zeros(2, requires_grad=True)]},
                             {"params": [lucid.zeros(1, requires_grad=True)], "lr": 0.03}],
                            lr=lr)
    theirs = torch.optim.Adam([{"params": [torch.zeros(2, requires_grad=True)]},
                               {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.03}],
                              lr=lr)
    return ours, theirs


@pytest.mark.parametrize("case", SCHEDULERS)
def test_schedule_matches_torch_step_by_step(case):
    ours_opt, theirs_opt = optimizers()
    ours = SCHEDULERS[case](lucid.optim.lr_scheduler, ours_opt)
    theirs = SCHEDULERS[case](torch.optim.lr_scheduler, theirs_opt)
    for _ in range(14):
        assert ours.get_last_lr() == theirs.get_last_lr()  # bit for bit: the same recursion
        assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in
                                                            theirs_opt.param_groups]
        theirs_opt.step()
        ours.step()
        theirs.step()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert ours.state_dict()["last_epoch"] == theirs.state_dict()["last_epoch"] == 14


@pytest.mark.parametrize("case", SCHEDULERS)
def test_state_dict_round_trip_resumes_the_schedule(case):
    first_opt, _ = optimizers()
    first = SCHEDULERS[case](lucid.optim.lr_scheduler, first_opt)
    for _ in range(4):
        first.step()
    saved = first.state_dict()
    second_opt, _ = optimizers()
    second = SCHEDULERS[case](lucid.optim.lr_scheduler, second_opt)
    second.load_state_dict(saved)
    for group, lr in zip(second_opt.param_groups, first.get_last_lr(), strict=True):
        group["lr"] = lr  # the optimiser's own state_dict carries lr in a real checkpoint
    for _ in range(5):
        first.step()
        second.step()
        assert first.get_last_lr() == second.get_last_lr()


def test_lambda_state_dict_saves_callable_objects_as_torch():
    ours_opt, theirs_opt = optimizers()
    ours = SCHEDULERS["lambda_per_group"](lucid.optim.lr_scheduler, ours_opt)
    theirs = SCHEDULERS["lambda_per_group"](torch.optim.lr_scheduler, theirs_opt)
    assert ours.state_dict()["lr_lambdas"] == theirs.state_dict()["lr_lambdas"]
    saved = ours.state_dict()
    saved["lr_lambdas"] = [None, {"factor": 0.25}]
    ours.load_state_dict(saved)
    assert ours.lr_lambdas[1].factor == 0.25


@pytest.mark.parametrize("bad", [{"last_epoch": 3}, [], {"lr_lambdas": [None]}, "state"])
def test_wrong_structure_load_changes_nothing(bad):
    opt, _ = optimizers()
    for scheduler in (lucid.optim.lr_scheduler.StepLR(opt, 2),
                      lucid.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)):
        scheduler.step()
        before = dict(vars(scheduler))
        with pytest.raises(ValueError, match="loaded state dict"):
            scheduler.load_state_dict(bad)
        assert vars(scheduler) == before


def test_wrong_group_count_changes_nothing():
    opt, _ = optimizers()
    scheduler = lucid.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    saved = scheduler.state_dict()
    saved["base_lrs"] = [0.1]
    before = dict(vars(scheduler))
    with pytest.raises(ValueError, match=r"loaded state dict's 'base_lrs' must be a list of 2 "
                                         r"learning rates \(one per parameter group\)"):
        scheduler.load_state_dict(saved)
    assert vars(scheduler) == before


def test_scheduler_errors_are_torchs():
    opt, theirs = optimizers()
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lucid.optim.lr_scheduler.StepLR([], 2)
    for S, o in ((lucid.optim.lr_scheduler, opt), (torch.optim.lr_scheduler, theirs)):
        with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
            S.LambdaLR(o, [lambda e: 1.0])
    fresh, _ = optimizers()
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in "
                                       r"param_groups\[0\] when resuming scheduler"):
        lucid.optim.lr_scheduler.StepLR(fresh, 2, last_epoch=3)


def test_schedulers_drive_training_like_torch():
    """SGD under StepLR: the parameters follow torch's (the lr is read at every step)."""
    w0 = np.float32([1.0, -2.0])
    ours_w, theirs_w = lucid.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    ours_opt = lucid.optim.SGD([ours_w], lr=0.2, momentum=0.9)
    theirs_opt = torch.optim.SGD([theirs_w], lr=0.2, momentum=0.9)
    ours = lucid.optim.lr_scheduler.StepLR(ours_opt, 2, 0.5)
    theirs = torch.optim.lr_scheduler.StepLR(theirs_opt, 2, 0.5)
    for _ in range(6):
        for w, opt, sched in ((ours_w, ours_opt, ours), (theirs_w, theirs_opt, theirs)):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
            sched.step()
    np.testing.assert_allclose(ours_w.numpy(), theirs_w.detach().numpy(), rtol=1e-6)
