// The two-layer VAE as TorchScript (lvm/export/script_part.h): its four parts and N(0, I) over z2,
// composed with methods of the hierarchy. The exported latent is the joint z = [z1, z2].
//
//   encode(x) -> (mean, log_var) [B, Z1 + Z2]  q(z1|x), then q(z2|z1) at z1 = its mean
//   decode(z) -> [.., D]                       E[x|z1]
//   log_prior(z) -> [..]                       log p(z2) + log p(z1|z2)
//   sample(n), sample_mean(n) -> [n, D]        z ~ p(z), then x ~ p(x|z1), or E[x|z1]
//   sample_latent(n) -> [n, Z1 + Z2]           z2 ~ p(z2), z1 ~ p(z1|z2)
//   reconstruct(x) -> [B, D]                   E[x|z1] at z1 = q(z1|x)'s mean
//   elbo(x) -> [B]                             one joint draw from q, Monte Carlo KL
//   log_likelihood(x, k, chunk_size=0) -> [B]  importance-sampled log p(x) over the joint latent
//   forward(x) = elbo(x)

#include <algorithm>

#include <torch/script.h>
#include <torch/torch.h>

#include "lvm/export/script_part.h"
#include "lvm/export/verify.h"
#include "lvm/models/vae2/vae2.h"
#include "lvm/objectives/objective.h"

namespace lvm {
namespace {

const char* const kVae2Source = R"(
def _bottom(self, z: Tensor) -> Tensor:
    return z.narrow(-1, 0, self.bottom_latent_dim)

def _top(self, z: Tensor) -> Tensor:
    return z.narrow(-1, self.bottom_latent_dim, self.latent_dim - self.bottom_latent_dim)

def _draw_proposal(self, mean1: Tensor, log_var1: Tensor, s: int) -> Tuple[Tensor, Tensor]:
    z1 = self._normal_rsample(mean1, log_var1, s)
    mean2, log_var2 = self.top_encoder.forward(z1)
    z2 = self._normal_rsample(mean2, log_var2, 1)[0]
    log_q = self._normal_log_prob(z1, mean1, log_var1) + self._normal_log_prob(z2, mean2, log_var2)
    return torch.cat([z1, z2], -1), log_q

def _log_prior(self, z: Tensor) -> Tensor:
    mean1, log_var1 = self.top_decoder.forward(self._top(z))
    return self.prior.log_prob(self._top(z)) + self._normal_log_prob(self._bottom(z), mean1, log_var1)

def _log_weights(self, x: Tensor, mean1: Tensor, log_var1: Tensor, s: int) -> Tensor:
    z, log_q = self._draw_proposal(mean1, log_var1, s)
    return self._log_prior(z) + self.decoder.log_prob(x, self._bottom(z)) - log_q

def encode(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    mean1, log_var1 = self.encoder.forward(self._check_x(x))
    mean2, log_var2 = self.top_encoder.forward(mean1)
    return torch.cat([mean1, mean2], -1), torch.cat([log_var1, log_var2], -1)

def decode(self, z: Tensor) -> Tensor:
    return self.decoder.mean(self._bottom(self._check_z(z)))

def log_prior(self, z: Tensor) -> Tensor:
    return self._log_prior(self._check_z(z))

def sample_latent(self, n: int) -> Tensor:
    z2 = self.prior.sample(n)
    mean1, log_var1 = self.top_decoder.forward(z2)
    z1 = self._normal_rsample(mean1, log_var1, 1)[0]
    return torch.cat([z1, z2], -1)

def sample(self, n: int) -> Tensor:
    return self.decoder.sample(self._bottom(self.sample_latent(n)))

def sample_mean(self, n: int) -> Tensor:
    return self.decoder.mean(self._bottom(self.sample_latent(n)))

def reconstruct(self, x: Tensor) -> Tensor:
    mean1, log_var1 = self.encoder.forward(self._check_x(x))
    return self.decoder.mean(mean1)

def elbo(self, x: Tensor) -> Tensor:
    x = self._check_x(x)
    mean1, log_var1 = self.encoder.forward(x)
    return self._log_weights(x, mean1, log_var1, 1).mean(0)

def forward(self, x: Tensor) -> Tensor:
    return self.elbo(x)
)";

// Every public method of the reloaded module against the native model, on fixed inputs; the
// random ones under the same seed (on the CPU, whose generator both sides share).
void verify_vae2(Vae2& model, torch::jit::Module& m) {
  torch::NoGradGuard no_grad;
  const auto options = model.parameters().front().options();
  const int64_t d = model.data_dim(), z_dim = model.latent_dim();
  const auto x = torch::linspace(0, 1, 3 * d, options).reshape({3, d});
  const auto z = torch::linspace(-2, 2, 6 * z_dim, options).reshape({2, 3, z_dim});

  torchscript::Checker check(m);
  const Normal q1 = model.encoder()->forward(x);
  const Normal q2 = model.top_encoder()->forward(q1.mean());
  const auto encoded = check.pair("encode", {x});
  check.close("encode (mean)", encoded.first, model.proposal(x)->mean());
  check.close("encode (log_var)", encoded.second, torch::cat({q1.log_var(), q2.log_var()}, -1));
  const auto mean = model.likelihood(z)->mean();
  check.close("decode", check.tensor("decode", {z}), mean);
  check.close("decoder.log_prob",
              m.attr("decoder").toModule().get_method("log_prob")({x, model.bottom(z)}).toTensor(),
              model.log_likelihood(x, z));
  check.close("log_prior", check.tensor("log_prior", {z}), model.prior()->log_prob(z));
  check.close("reconstruct", check.tensor("reconstruct", {x}),
              model.likelihood(model.proposal(x)->mean())->mean());
  if (!options.device().is_cpu()) return;

  check.seeded("sample", [&] { return model.sample(4); }, {int64_t{4}});
  check.seeded("sample_mean", [&] { return model.sample(4, /*mean=*/true); }, {int64_t{4}});
  check.seeded("sample_latent", [&] { return model.prior()->sample({4}); }, {int64_t{4}});
  check.seeded("elbo", [&] { return elbo(model, x, 1, KlMode::kMonteCarlo).value; }, {x});
  check.seeded("forward", [&] { return elbo(model, x, 1, KlMode::kMonteCarlo).value; }, {x});
  // One chunk of all k draws takes the draws of the native importance-weighted bound.
  check.seeded("log_likelihood", [&] { return iwae(model, x, 5).value; }, {x, int64_t{5}, int64_t{5}});
}

}  // namespace

std::unique_ptr<torchscript::ModelScript> Vae2::script() {
  auto decoder = decoder_->script();
  // The decoder's own facades take z1; the model's decode takes the joint z instead.
  decoder.facade_source.clear();
  decoder.facade_methods.clear();
  auto prior = torchscript::standard_normal_prior_script(options_.top_latent_dim(),
                                                         parameters().front().scalar_type());
  auto out = std::make_unique<torchscript::ModelScript>();
  out->class_name = "ExportedVae2";
  out->dtype = parameters().front().scalar_type();
  auto encoder = encoder_->script(), top_encoder = top_encoder_->script(),
       top_decoder = top_decoder_->script();
  const int64_t max_width = std::max(
      {data_dim(), encoder.max_width, top_encoder.max_width, top_decoder.max_width, decoder.max_width});
  out->int_attributes = {{"max_width", max_width}, {"bottom_latent_dim", options_.latent_dim()}};
  out->source = torchscript::input_check_methods() + torchscript::normal_methods() +
                torchscript::importance_sampling_methods() + kVae2Source;
  out->methods = {"encode",        "decode",      "log_prior", "sample",         "sample_mean",
                  "sample_latent", "reconstruct", "elbo",      "log_likelihood", "forward"};
  out->parts.emplace_back("encoder", std::move(encoder));
  out->parts.emplace_back("top_encoder", std::move(top_encoder));
  out->parts.emplace_back("top_decoder", std::move(top_decoder));
  out->parts.emplace_back("decoder", std::move(decoder));
  out->parts.emplace_back("prior", std::move(prior));
  out->verify = [this](torch::jit::Module& m) { verify_vae2(*this, m); };
  return out;
}

}  // namespace lvm
