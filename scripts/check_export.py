#!/usr/bin/env python3
"""Checks TorchScript files written by `lvm export` from Python, with no lvm code.

    python3 scripts/check_export.py MODEL.pt [MODEL.pt ...]

For each MODEL.pt, MODEL.pt.check.json holds fixed inputs and what the native lvm model computed
for them (tests/export/export_test.cpp writes both). Checked: attributes, output shapes, the
deterministic methods against the native numbers (1e-5 relative), the random ones against the
native draws under the same seed, determinism under torch.manual_seed (within float rounding), the importance-sampled
log-likelihood against the native estimate within its standard error, and, when a CUDA device
is present, the same file loaded with map_location="cuda". Prints "MODEL.pt: ok" per file and
exits 1 on the first failure.
"""

import json
import math
import sys

import torch


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def check_close(actual, expected, what, rtol=1e-5, atol=1e-6):
    expected = torch.as_tensor(expected, dtype=torch.float64)
    actual = actual.detach().to("cpu", torch.float64)
    check(actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    ok = torch.allclose(actual, expected, rtol=rtol, atol=atol)
    check(ok, f"{what}: max abs difference {(actual - expected).abs().max().item():.3g}")


def check_model(path):
    with open(path + ".check.json") as f:
        ref = json.load(f)
    m = torch.jit.load(path)
    bernoulli = ref["likelihood"] == "bernoulli"
    b, d, z_dim = len(ref["x"]), ref["data_dim"], ref["latent_dim"]
    x = torch.tensor(ref["x"], dtype=torch.float32)
    z = torch.tensor(ref["z"], dtype=torch.float32)

    # Attributes.
    check(m.model_kind == "vae", f"model_kind {m.model_kind!r}")
    check(m.latent_dim == z_dim and m.data_dim == d, f"latent_dim {m.latent_dim}, data_dim {m.data_dim}")
    check(math.prod(m.input_shape) == d, f"input_shape {m.input_shape} does not hold {d} values")
    check(m.likelihood == ref["likelihood"] and m.activation == ref["activation"], "likelihood / activation")
    check(m.binarization == ref["binarization"], f"binarization {m.binarization!r}")
    check(m.epoch == ref["epoch"], f"epoch {m.epoch}")
    check(m.lvm_version == ref["lvm_version"], f"lvm_version {m.lvm_version!r}")
    check(m.export_format_version == ref["export_format_version"], "export_format_version")
    check("model:" in m.config_yaml, "config_yaml holds no model section")
    try:
        import yaml  # python3-yaml; optional
    except ImportError:
        yaml = None
    if yaml is not None:
        model_config = yaml.safe_load(m.config_yaml)["model"]
        check(model_config["latent_dim"] == z_dim, "config_yaml's model.latent_dim differs from latent_dim")

    with torch.no_grad():
        # Deterministic methods against the native model.
        mean, log_var = m.encode(x)
        check_close(mean, ref["encode_mean"], "encode mean")
        check_close(log_var, ref["encode_log_var"], "encode log_var")
        check_close(m.encode(x.reshape([b] + list(m.input_shape)))[0], ref["encode_mean"], "encode of images")
        if bernoulli:
            check_close(m.decode(z), ref["decode_mean"], "decode")
            check_close(m.decode_logits(z), ref["decode_logits"], "decode_logits")
        else:
            p_mean, p_log_var = m.decode(z)
            check_close(p_mean, ref["decode_mean"], "decode mean")
            check_close(p_log_var, ref["decode_log_var"], "decode log_var")
        check_close(m.reconstruct(x), ref["reconstruct"], "reconstruct")

        # Random methods: the native draws under the same seed (the CPU generator is the same
        # Mersenne Twister in Python and C++), and determinism under a seed.
        torch.manual_seed(ref["seed"])
        check_close(m.elbo(x), ref["elbo_seeded"], "elbo under the native seed")
        torch.manual_seed(ref["seed"])
        check_close(m(x), ref["elbo_seeded"], "forward under the native seed")
        torch.manual_seed(ref["seed"])
        check_close(m.sample(5), ref["sample_seeded"], "sample under the native seed")
        for method, shape in [("sample", (16, d)), ("sample_mean", (16, d)), ("sample_latent", (16, z_dim))]:
            torch.manual_seed(7)
            first = getattr(m, method)(16)
            torch.manual_seed(7)
            again = getattr(m, method)(16)
            torch.manual_seed(8)
            other = getattr(m, method)(16)
            check(tuple(first.shape) == shape, f"{method}(16): shape {tuple(first.shape)}, expected {shape}")
            # The same seed gives the same draws; the arithmetic on them may round differently
            # in the last bit from one call to the next (TorchScript's CPU fuser, on by default
            # in torch 2.x builds with LLVM, compiles a method after its first calls).
            check_close(first, again, f"{method}: not reproducible under torch.manual_seed")
            check(not torch.allclose(first, other), f"{method}: the same draws under different seeds")
        if bernoulli:
            s = m.sample(64)
            check(bool(((s == 0) | (s == 1)).all()), "Bernoulli samples are not binary")
            p = m.sample_mean(64)
            check(bool(((p >= 0) & (p <= 1)).all()), "Bernoulli means outside [0, 1]")
        check(tuple(m.elbo(x).shape) == (b,), "elbo shape")

        # log_likelihood: same distribution as the native estimate for the same k; the mean over
        # repeats and examples agrees within the standard error of the difference.
        k, repeats = ref["k"], ref["repeats"]
        estimates = torch.stack([m.log_likelihood(x, k, 5).double() for _ in range(repeats)])
        check(tuple(estimates.shape) == (repeats, b), "log_likelihood shape")
        native_mean = torch.tensor(ref["log_likelihood_mean"], dtype=torch.float64)
        native_var = torch.tensor(ref["log_likelihood_var"], dtype=torch.float64)
        difference = (estimates.mean() - native_mean.mean()).item()
        std_error = math.sqrt(((estimates.var(0) + native_var).sum() / repeats).item()) / b
        check(abs(difference) < 4 * std_error,
              f"log_likelihood: mean {estimates.mean().item():.4f} vs native {native_mean.mean().item():.4f}, "
              f"difference {difference:.4f} > 4 standard errors ({std_error:.4f})")
        check(bool(torch.isfinite(m.log_likelihood(x, 5000)).all()), "log_likelihood(x, 5000) not finite")

        # Bad input is a clear error.
        try:
            m.encode(torch.zeros(2, d + 1))
        except Exception as e:  # torch.jit.Error
            check(f"expected x of shape [B, {d}]" in str(e), f"unexpected message for a bad x: {e}")
        else:
            raise CheckFailed("encode accepted x of the wrong width")

        if torch.cuda.is_available():
            mc = torch.jit.load(path, map_location="cuda")
            check_close(mc.encode(x.cuda())[0], ref["encode_mean"], "encode on CUDA", rtol=1e-4, atol=1e-5)
            check(mc.sample(4).is_cuda and mc.log_likelihood(x.cuda(), 10).is_cuda, "CUDA outputs not on CUDA")


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path in paths:
        try:
            check_model(path)
        except CheckFailed as e:
            print(f"{path}: FAILED: {e}")
            return 1
        print(f"{path}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
