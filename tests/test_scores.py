import itertools

import pytest
import torch
from torch import nn

from sparse_dip import defaults
from sparse_dip.generators.hourglass import Hourglass, crop, input_noise, padded_size
from sparse_dip.pruning.mask import maskable_names
from sparse_dip.pruning.methods import Problem, ScoreConfig, SynFlowConfig, find
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.pruning.prune import density_schedule, prune
from sparse_dip.pruning.scores import (
    MagnitudeScorer,
    SNIPScorer,
    SynFlowScorer,
    functional_loss,
    hessian_gradient_product,
)


def _relu_net(widths=(6, 16, 16, 3), seed=0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b, bias=False), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


def test_synflow_scores_are_conserved_layer_by_layer():
    """In a ReLU net every layer's |w * dR/dw| sums to R (Tanaka et al., Theorem 2); scores come divided by R."""
    net = _relu_net()
    names = maskable_names(net)
    scores = SynFlowScorer(net, names, example_input=torch.zeros(1, 6)).scores()
    weights = [layer.weight.detach().abs().requires_grad_() for layer in net if isinstance(layer, nn.Linear)]
    x = torch.ones(1, 6, dtype=torch.float64)
    for i, w in enumerate(weights):
        x = nn.functional.linear(x, w)
        x = torch.relu(x) if i < len(weights) - 1 else x
    flow = x.sum()
    grads = torch.autograd.grad(flow, weights)
    for name, w, g in zip(names, weights, grads):
        expected = (w * g).abs() / flow
        # Scores are computed in float64 and rounded once to float32 (6e-8 relative): 1e-5 holds anywhere.
        assert torch.allclose(scores[name].double(), expected.detach(), rtol=1e-5, atol=0)
        assert float(scores[name].double().sum()) == pytest.approx(1.0, rel=1e-5)


def test_synflow_flow_ignores_biases_and_batchnorm_shifts():
    """Biases, BatchNorm shifts and running means add no path: conservation holds with them non-zero."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
    with torch.no_grad():
        for module in net:
            if isinstance(module, (nn.Linear, nn.BatchNorm1d)):
                module.bias.uniform_(0.5, 1.0)
        net[1].running_mean.uniform_(-1.0, 1.0)
    names = maskable_names(net)
    scores = SynFlowScorer(net, names, example_input=torch.zeros(1, 6)).scores()
    sums = [float(scores[n].double().sum()) for n in names]
    # float64 scores rounded once to float32 and summed in float64: ~1e-7 off, well inside 1e-5.
    assert sums == pytest.approx([1.0] * len(names), rel=1e-5)
    assert all(net[i].bias.abs().min() >= 0.5 for i in (0, 3, 5)), "the model itself is untouched"


def test_iterative_synflow_avoids_the_layer_collapse_of_magnitude_pruning():
    # Kaiming-uniform weights shrink with fan-in: the 8-input first layer has the largest, so
    # global magnitude pruning at 1 % keeps only it and empties the two wide layers.
    net = _relu_net((8, 256, 256, 4)).float()
    names = maskable_names(net)
    magnitude = prune(MagnitudeScorer(net, names), 0.01)
    assert min(int(magnitude[n].sum()) for n in names) == 0
    synflow = prune(SynFlowScorer(net, names, example_input=torch.zeros(1, 8)), 0.01, rounds=defaults.SYNFLOW_ROUNDS)
    assert synflow.kept == magnitude.kept
    assert min(int(synflow[n].sum()) for n in names) > 0


def test_grasp_hessian_gradient_product_matches_finite_differences():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    x, y = torch.randn(7, 4, dtype=torch.float64), torch.randn(7, 2, dtype=torch.float64)
    loss = functional_loss(net, [x], lambda out: ((out - y) ** 2).mean())
    names = maskable_names(net)
    w0 = {n: p.detach().clone().requires_grad_() for n, p in net.named_parameters() if n in names}
    hg = hessian_gradient_product(loss, w0)

    def grad_at(weights):
        weights = {n: w.detach().requires_grad_() for n, w in weights.items()}
        return torch.autograd.grad(loss(weights), list(weights.values()))

    g = grad_at(w0)
    eps = 1e-5
    plus = grad_at({n: w + eps * gi for (n, w), gi in zip(w0.items(), g)})
    minus = grad_at({n: w - eps * gi for (n, w), gi in zip(w0.items(), g)})
    for h, p, m in zip(hg, plus, minus):
        # float64 central difference: truncation ~eps**2 = 1e-10 and rounding ~1e-16 / eps = 1e-11, both
        # well inside the tolerance on any CPU; a wrong product (H w, or g g) is off by order 1.
        assert torch.allclose(h, (p - m) / (2 * eps), atol=1e-7, rtol=1e-5)


def test_snip_is_the_gradient_times_the_weight():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    x, y = torch.randn(9, 4, dtype=torch.float64), torch.randn(9, 2, dtype=torch.float64)
    names = maskable_names(net)
    loss = functional_loss(net, [x], lambda out: ((out - y) ** 2).mean())
    scores = SNIPScorer(net, names, loss=loss).scores()
    ((net(x) - y) ** 2).mean().backward()
    params = dict(net.named_parameters())
    for n in names:
        # float64: the functional and the module backward differ by rounding only (~1e-16 relative).
        torch.testing.assert_close(scores[n], (params[n].grad * params[n]).abs(), rtol=1e-10, atol=1e-14)


def _generator_problem(tiny_config):
    torch.manual_seed(0)
    model = Hourglass(tiny_config)
    z = input_noise(8, *padded_size(24, 24, 3), torch.Generator().manual_seed(1))
    target = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    loss = functional_loss(model, [z], lambda out: ((crop(out, 24, 24) - target) ** 2).mean())
    return model, z, loss


SCORED = ("random", "magnitude", "snip", "grasp", "synflow", "oes")


@pytest.mark.parametrize("method", SCORED)
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_every_method_gives_an_exact_mask_and_leaves_the_model_alone(tiny_config, method, scope):
    if method == "oes" and scope == "layer":
        pytest.skip("OES ranks its logits globally")
    model, z, loss = _generator_problem(tiny_config)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = maskable_names(model)
    configs = {"synflow": SynFlowConfig(scope=scope, rounds=3), "oes": OESConfig(steps=3)}

    def mask(seed=0):
        problem = Problem(
            model,
            names,
            loss=loss,
            example_input=z,
            forward=Hourglass.pre_activation,
            generator=torch.Generator().manual_seed(seed),
        )
        return find(method, problem, 0.1, configs.get(method, ScoreConfig(scope=scope)))

    first = mask()
    assert list(first) == names
    if scope == "global":
        assert first.kept == round(0.1 * first.total)
    else:
        assert all(int(first[n].sum()) == round(0.1 * first[n].numel()) for n in names)
    assert mask() == first
    parameters = dict(model.named_parameters())
    for k, v in model.state_dict().items():
        if method != "oes" or k in parameters:  # OES's forward passes update BatchNorm statistics
            assert torch.equal(v, before[k]), k
    assert model.training


def test_synflow_on_a_batchnorm_network_gives_non_zero_scores(tiny_config):
    model, z, _ = _generator_problem(tiny_config)
    model.train()
    scores = SynFlowScorer(model, maskable_names(model), example_input=z, forward=Hourglass.pre_activation).scores()
    assert all(float(s.sum()) > 0 for s in scores.values())


def test_density_schedules_end_at_the_target():
    exponential = density_schedule(1.0, 0.01, 4)
    assert exponential[-1] == pytest.approx(0.01) and exponential[0] == pytest.approx(0.01**0.25)
    linear = density_schedule(0.5, 0.1, 4, "linear")
    assert linear == pytest.approx([0.4, 0.3, 0.2, 0.1])
    with pytest.raises(ValueError):
        density_schedule(0.1, 0.5, 3)


def test_unknown_method_missing_inputs_and_a_wrong_config_are_errors(tiny_config):
    model, _, _ = _generator_problem(tiny_config)
    problem = Problem(model, maskable_names(model))
    with pytest.raises(ValueError, match="unknown"):
        find("obd", problem, 0.1)
    with pytest.raises(ValueError, match="grasp needs loss"):
        find("grasp", problem, 0.1)
    with pytest.raises(ValueError, match="imp needs train"):
        find("imp", problem, 0.1)
    with pytest.raises(TypeError, match="SynFlowConfig"):
        find("synflow", problem, 0.1, ScoreConfig())
    with pytest.raises(ValueError, match="density"):
        find("magnitude", problem, 0.0)


def test_the_registry_and_the_torch_free_names_agree():
    from sparse_dip.classification.pruning import METHODS as CLASSIFIER_METHODS
    from sparse_dip.pruning.methods import METHODS

    assert tuple(METHODS) == defaults.PRUNING_METHODS
    assert CLASSIFIER_METHODS == defaults.CLASSIFIER_PRUNING_METHODS
    assert all(METHODS[m].summary for m in METHODS)
