// The Gaussian mixture as TorchScript (lvm/export/script_part.h). Every covariance type is
// exported as Cholesky factors, so one set of methods serves full, diag and spherical mixtures.

#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/export/script_part.h"
#include "lvm/export/verify.h"
#include "lvm/models/gmm/gaussian_mixture.h"

namespace lvm {
namespace {

// Over the weights of self.mixture: log_weights [K], means [K, D], scale_tril [K, D, D]
// (Σ_k = L_k L_kᵀ); x [B, D].
const char* const kMixtureSource = R"(
def component_log_prob(self, x: Tensor) -> Tensor:
    x = self._check_x(x)
    d = self.data_dim
    eye = torch.eye(d, dtype=self.mixture.scale_tril.dtype, device=self.mixture.scale_tril.device).expand(self.mixture.scale_tril.shape)
    inverse = torch.linalg_solve_triangular(self.mixture.scale_tril, eye, upper=False)
    y = torch.matmul(x.unsqueeze(0) - self.mixture.means.unsqueeze(1), inverse.transpose(-1, -2))
    mahalanobis = y.pow(2).sum(-1).transpose(0, 1)
    half_log_det = torch.log(torch.diagonal(self.mixture.scale_tril, 0, -2, -1)).sum(-1)
    return -0.5 * (mahalanobis + d * LOG2PI) - half_log_det

def _joint_log_prob(self, x: Tensor) -> Tensor:
    return self.component_log_prob(x) + self.mixture.log_weights

def log_prob(self, x: Tensor) -> Tensor:
    return torch.logsumexp(self._joint_log_prob(x), -1)

def responsibilities(self, x: Tensor) -> Tensor:
    return torch.softmax(self._joint_log_prob(x), -1)

def predict(self, x: Tensor) -> Tensor:
    return self._joint_log_prob(x).argmax(-1)

def sample_latent(self, n: int) -> Tensor:
    assert n >= 0, "expected n >= 0, got " + str(n)
    if n == 0:
        return torch.zeros([0], device=self.mixture.means.device).long()
    probs = torch.exp(self.mixture.log_weights).unsqueeze(0)
    return torch.multinomial(probs, n, True).squeeze(0)

def sample(self, n: int) -> Tensor:
    z = self.sample_latent(n)
    eps = torch.randn([n, self.data_dim], dtype=self.mixture.means.dtype, device=self.mixture.means.device)
    factors = self.mixture.scale_tril.index_select(0, z)
    return self.mixture.means.index_select(0, z) + torch.matmul(factors, eps.unsqueeze(-1)).squeeze(-1)

def forward(self, x: Tensor) -> Tensor:
    return self.log_prob(x)
)";

void verify_mixture(GaussianMixture& model, torch::jit::Module& m) {
  torch::NoGradGuard no_grad;
  const auto options = model.means().options();
  const int64_t d = model.data_dim();
  const auto x = torch::linspace(-3, 3, 5 * d, options).reshape({5, d});
  torchscript::Checker check(m);
  check.close("log_prob", check.tensor("log_prob", {x}), *model.exact_log_marginal(x));
  check.close("forward", check.tensor("forward", {x}), *model.exact_log_marginal(x));
  check.close("component_log_prob", check.tensor("component_log_prob", {x}), model.component_log_prob(x));
  check.close("responsibilities", check.tensor("responsibilities", {x}), model.responsibilities(x));
  check.close("predict", check.tensor("predict", {x}), model.predict(x));
  if (!options.device().is_cpu()) return;
  check.seeded("sample", [&] { return model.sample(6); }, {int64_t{6}});
  check.seeded("sample_latent", [&] { return model.prior()->sample({6}); }, {int64_t{6}});
}

}  // namespace

std::unique_ptr<torchscript::ModelScript> GaussianMixture::script() {
  torch::NoGradGuard no_grad;
  auto out = std::make_unique<torchscript::ModelScript>();
  out->class_name = "ExportedGaussianMixture";
  out->dtype = means_.scalar_type();
  // The mixture is one part: its weights live in a submodule like every other model's.
  torchscript::ScriptedPart mixture;
  mixture.module = torchscript::new_part_module("GaussianMixtureWeights");
  torchscript::add_weight(mixture.module, "log_weights", log_weights());
  torchscript::add_weight(mixture.module, "means", means_);
  torchscript::add_weight(mixture.module, "scale_tril", scale_tril());
  out->parts.emplace_back("mixture", std::move(mixture));
  out->string_attributes = {{"covariance", to_string(options_.covariance())}};
  out->int_attributes = {{"components", latent_dim()}};
  out->source = torchscript::input_check_methods() + torchscript::with_constants(kMixtureSource);
  out->methods = {"log_prob", "component_log_prob", "responsibilities", "predict",
                  "sample",   "sample_latent",      "forward"};
  out->verify = [this](torch::jit::Module& m) { verify_mixture(*this, m); };
  return out;
}

}  // namespace lvm
