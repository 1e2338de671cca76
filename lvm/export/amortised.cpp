#include "lvm/export/amortised.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/distributions/normal.h"
#include "lvm/export/verify.h"
#include "lvm/objectives/objective.h"

namespace lvm::torchscript {
namespace {

// The methods of every amortised model, over self.encoder, self.decoder and self.prior.
const char* const kAmortisedSource = R"(
def encode(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    return self.encoder.forward(self._check_x(x))

def sample(self, n: int) -> Tensor:
    return self.decoder.sample(self.prior.sample(n))

def sample_mean(self, n: int) -> Tensor:
    return self.decoder.mean(self.prior.sample(n))

def sample_latent(self, n: int) -> Tensor:
    return self.prior.sample(n)

def reconstruct(self, x: Tensor) -> Tensor:
    mean, log_var = self.encode(x)
    return self.decoder.mean(mean)

def elbo(self, x: Tensor) -> Tensor:
    x = self._check_x(x)
    mean, log_var = self.encoder.forward(x)
    z = self._normal_rsample(mean, log_var, 1)
    return self.decoder.log_prob(x, z).mean(0) - self.prior.kl(mean, log_var)

def _log_weights(self, x: Tensor, mean: Tensor, log_var: Tensor, s: int) -> Tensor:
    z = self._normal_rsample(mean, log_var, s)
    return (self.prior.log_prob(z) + self.decoder.log_prob(x, z)) - self._normal_log_prob(z, mean, log_var)

def forward(self, x: Tensor) -> Tensor:
    return self.elbo(x)
)";

// Every public method of the reloaded module against `model`, on fixed inputs; the random ones
// under the same seed (on the CPU, whose generator both sides share).
void verify_amortised(LatentVariableModel& model, torch::jit::Module& m) {
  torch::NoGradGuard no_grad;
  const auto options = model.parameters().front().options();
  const int64_t d = model.data_dim(), z_dim = model.latent_dim();
  const auto x = torch::linspace(0, 1, 3 * d, options).reshape({3, d});
  const auto z = torch::linspace(-2, 2, 6 * z_dim, options).reshape({2, 3, z_dim});
  const auto proposal = model.proposal(x);
  const Normal* q = proposal == nullptr ? nullptr : proposal->diagonal_gaussian();
  if (q == nullptr) throw std::runtime_error("an amortised export needs a diagonal Gaussian q(z|x)");

  Checker check(m);
  const auto encoded = check.pair("encode", {x});
  check.close("encode (mean)", encoded.first, q->mean());
  check.close("encode (log_var)", encoded.second, q->log_var());
  const auto decoder = m.attr("decoder").toModule();
  const auto mean = model.likelihood(z)->mean();
  check.close("decoder.mean", decoder.get_method("mean")({z}).toTensor(), mean);
  check.close("decoder.log_prob", decoder.get_method("log_prob")({x, z}).toTensor(),
              model.log_likelihood(x, z));
  if (m.find_method("decode")) {  // a facade: the probabilities, or a Gaussian's (mean, log_var)
    const auto decoded = m.get_method("decode")({z});
    check.close("decode",
                decoded.isTuple() ? decoded.toTupleRef().elements()[0].toTensor() : decoded.toTensor(), mean);
  }
  const auto prior = m.attr("prior").toModule();
  check.close("prior.log_prob", prior.get_method("log_prob")({z}).toTensor(), model.prior()->log_prob(z));
  check.close("reconstruct", check.tensor("reconstruct", {x}), model.likelihood(q->mean())->mean());
  if (!options.device().is_cpu()) return;

  check.seeded("sample", [&] { return model.sample(4); }, {int64_t{4}});
  check.seeded("sample_mean", [&] { return model.sample(4, /*mean=*/true); }, {int64_t{4}});
  check.seeded("sample_latent", [&] { return model.prior()->sample({4}); }, {int64_t{4}});
  check.seeded("elbo", [&] { return elbo(model, x, 1).value; }, {x});
  check.seeded("forward", [&] { return elbo(model, x, 1).value; }, {x});
  // One chunk of all k draws takes the draws of the native importance-weighted bound.
  check.seeded("log_likelihood", [&] { return iwae(model, x, 5).value; }, {x, int64_t{5}, int64_t{5}});
}

}  // namespace

ModelScript amortised_model_script(LatentVariableModel& model, const std::string& class_name,
                                   ScriptedPart encoder, ScriptedPart decoder, ScriptedPart prior) {
  ModelScript out;
  out.class_name = class_name;
  out.dtype = model.parameters().front().scalar_type();
  const int64_t max_width =
      std::max({model.data_dim(), encoder.max_width, decoder.max_width, prior.max_width});
  out.int_attributes = {{"max_width", max_width}};
  out.source = input_check_methods() + normal_methods() + importance_sampling_methods() + kAmortisedSource;
  out.methods = {"encode"};
  for (const auto& name : decoder.facade_methods) out.methods.push_back(name);
  for (const char* name :
       {"sample", "sample_mean", "sample_latent", "reconstruct", "elbo", "log_likelihood", "forward"})
    out.methods.emplace_back(name);
  out.parts.emplace_back("encoder", std::move(encoder));
  out.parts.emplace_back("decoder", std::move(decoder));
  out.parts.emplace_back("prior", std::move(prior));
  out.verify = [&model](torch::jit::Module& m) { verify_amortised(model, m); };
  return out;
}

}  // namespace lvm::torchscript
