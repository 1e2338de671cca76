#include "lvm/models/linear_gaussian/linear_gaussian.h"

#include <cmath>

#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/export/script_part.h"
#include "lvm/export/verify.h"

namespace lvm {

LinearGaussian::LinearGaussian(torch::Tensor weight, torch::Tensor bias, double noise_std) {
  TORCH_CHECK(weight.dim() == 2, "LinearGaussian: expected weight [D, Z], got ", weight.sizes());
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "LinearGaussian: expected bias [",
              weight.size(0), "], got ", bias.sizes());
  TORCH_CHECK(noise_std > 0, "LinearGaussian: noise_std must be positive, got ", noise_std);
  weight_ = register_parameter("weight", weight.clone());
  bias_ = register_parameter("bias", bias.clone().to(weight.dtype()));
  log_noise_var_ =
      register_parameter("log_noise_var", torch::full({}, 2.0 * std::log(noise_std), weight.options()));
}

std::shared_ptr<Distribution> LinearGaussian::prior() {
  return std::make_shared<Normal>(Normal::standard(latent_dim(), weight_.options()));
}

std::shared_ptr<Distribution> LinearGaussian::likelihood(const torch::Tensor& z) {
  const auto mean = torch::matmul(z, weight_.t()) + bias_;
  return std::make_shared<Normal>(mean, log_noise_var_.expand({data_dim()}));
}

std::shared_ptr<Distribution> LinearGaussian::proposal(const torch::Tensor& x) {
  return std::make_shared<MultivariateNormal>(posterior(x));
}

std::optional<torch::Tensor> LinearGaussian::exact_log_marginal(const torch::Tensor& x) {
  const auto eye = torch::eye(data_dim(), weight_.options());
  const auto covariance = torch::matmul(weight_, weight_.t()) + noise_variance() * eye;
  return MultivariateNormal::from_covariance(bias_, covariance).log_prob(x);
}

MultivariateNormal LinearGaussian::posterior(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == data_dim(), "LinearGaussian: expected x [B, ", data_dim(),
              "], got ", x.sizes());
  const auto var = noise_variance();
  const auto precision =
      torch::eye(latent_dim(), weight_.options()) + torch::matmul(weight_.t(), weight_) / var;
  const auto covariance = torch::cholesky_inverse(torch::linalg_cholesky(precision));
  // mean_b = Σ Wᵀ (x_b − b) / σ²  ->  [B, Z]
  const auto mean = torch::matmul((x - bias_) / var, torch::matmul(weight_, covariance));
  return MultivariateNormal(mean, torch::linalg_cholesky(covariance));
}

namespace {

// Over self.model.weight [D, Z], bias [D] and log_noise_var []: the same closed forms as above.
const char* const kLinearGaussianSource = R"(
def _noise_var(self) -> Tensor:
    return torch.exp(self.model.log_noise_var)

def log_prob(self, x: Tensor) -> Tensor:
    x = self._check_x(x)
    w = self.model.weight
    eye = torch.eye(self.data_dim, dtype=w.dtype, device=w.device)
    factor = torch.linalg_cholesky(torch.matmul(w, w.t()) + self._noise_var() * eye)
    y = torch.linalg_solve_triangular(factor, (x - self.model.bias).t(), upper=False)
    half_log_det = torch.log(torch.diagonal(factor, 0, -2, -1)).sum(-1)
    return -0.5 * (y.pow(2).sum(0) + self.data_dim * LOG2PI) - half_log_det

def encode(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    x = self._check_x(x)
    w = self.model.weight
    var = self._noise_var()
    eye = torch.eye(self.latent_dim, dtype=w.dtype, device=w.device)
    covariance = torch.cholesky_inverse(torch.linalg_cholesky(eye + torch.matmul(w.t(), w) / var))
    mean = torch.matmul((x - self.model.bias) / var, torch.matmul(w, covariance))
    return mean, torch.linalg_cholesky(covariance)

def sample_latent(self, n: int) -> Tensor:
    assert n >= 0, "expected n >= 0, got " + str(n)
    w = self.model.weight
    return torch.randn([n, self.latent_dim], dtype=w.dtype, device=w.device)

def sample(self, n: int) -> Tensor:
    mean = torch.matmul(self.sample_latent(n), self.model.weight.t()) + self.model.bias
    eps = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device)
    return mean + eps * torch.exp(0.5 * self.model.log_noise_var)

def forward(self, x: Tensor) -> Tensor:
    return self.log_prob(x)
)";

}  // namespace

std::unique_ptr<torchscript::ModelScript> LinearGaussian::script() {
  auto out = std::make_unique<torchscript::ModelScript>();
  out->class_name = "ExportedLinearGaussian";
  out->dtype = weight_.scalar_type();
  torchscript::ScriptedPart weights;
  weights.module = torchscript::new_part_module("LinearGaussianWeights");
  torchscript::add_weight(weights.module, "weight", weight_);
  torchscript::add_weight(weights.module, "bias", bias_);
  torchscript::add_weight(weights.module, "log_noise_var", log_noise_var_);
  out->parts.emplace_back("model", std::move(weights));
  out->source = torchscript::input_check_methods() + torchscript::with_constants(kLinearGaussianSource);
  out->methods = {"log_prob", "encode", "sample", "sample_latent", "forward"};
  out->verify = [this](torch::jit::Module& m) {
    torch::NoGradGuard no_grad;
    const int64_t d = data_dim();
    const auto x = torch::linspace(-2, 2, 4 * d, weight_.options()).reshape({4, d});
    torchscript::Checker check(m);
    check.close("log_prob", check.tensor("log_prob", {x}), *exact_log_marginal(x));
    check.close("forward", check.tensor("forward", {x}), *exact_log_marginal(x));
    const auto exact = posterior(x);
    const auto [mean, scale_tril] = check.pair("encode", {x});
    check.close("encode (mean)", mean, exact.mean());
    check.close("encode (scale_tril)", scale_tril, exact.scale_tril());
    if (!weight_.device().is_cpu()) return;
    check.seeded("sample", [&] { return sample(5); }, {int64_t{5}});
    check.seeded("sample_latent", [&] { return prior()->sample({5}); }, {int64_t{5}});
  };
  return out;
}

}  // namespace lvm
