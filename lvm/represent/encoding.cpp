#include "lvm/represent/encoding.h"

#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/distributions/categorical.h"
#include "lvm/distributions/joint.h"
#include "lvm/distributions/kl.h"
#include "lvm/distributions/normal.h"

namespace lvm::represent {

const data::Split& split_by_name(const data::ImageDataset& dataset, const std::string& name) {
  const data::Split* split = nullptr;
  if (name == "train") split = &dataset.train;
  if (name == "validation") split = &dataset.validation;
  if (name == "test") split = &dataset.test;
  if (split == nullptr) {
    throw std::invalid_argument("--split " + name + ": unknown split (expected train, validation or test)");
  }
  if (!split->images.defined() || split->size() == 0) {
    throw std::invalid_argument("--split " + name + ": the split is empty for this run's data config");
  }
  return *split;
}

torch::Tensor model_view(const torch::Tensor& images, data::Binarization binarization) {
  return data::fixed_binarization(images, binarization, kDisplayBinarizationSeed);
}

Encoding encode(LatentVariableModel& model, const torch::Tensor& images, const torch::Tensor& labels,
                int64_t batch_size) {
  TORCH_CHECK(images.dim() == 2, "encode: expected images [N, D], got ", images.sizes());
  TORCH_CHECK(!labels.defined() || (labels.dim() == 1 && labels.size(0) == images.size(0)),
              "encode: expected labels [", images.size(0), "], got ", labels.sizes());
  TORCH_CHECK(batch_size >= 1, "encode: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means, log_vars;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const auto x = images.slice(0, start, std::min(start + batch_size, images.size(0)));
    const auto proposal = model.proposal(x);  // keeps q alive
    const Normal* q = proposal == nullptr ? nullptr : proposal->diagonal_gaussian();
    std::optional<Normal> chained;  // a hierarchy's q, layer by layer at the means
    if (const auto* joint = dynamic_cast<const JointDistribution*>(proposal.get()); q == nullptr && joint) {
      chained = joint->normal_at_means();
      if (chained) q = &*chained;
    }
    if (q == nullptr) {
      throw std::invalid_argument("this " + model.kind() +
                                  " model has no Gaussian q(z|x) to encode with (only models with a "
                                  "diagonal Gaussian encoder, or a hierarchy of them, can be encoded)");
    }
    means.push_back(q->mean().expand({x.size(0), model.latent_dim()}).to(torch::kCPU, torch::kFloat));
    log_vars.push_back(q->log_var().expand({x.size(0), model.latent_dim()}).to(torch::kCPU, torch::kFloat));
  }
  Encoding encoding;
  if (means.empty()) {
    encoding.mean = torch::empty({0, model.latent_dim()});
    encoding.log_var = torch::empty({0, model.latent_dim()});
  } else {
    encoding.mean = torch::cat(means);
    encoding.log_var = torch::cat(log_vars);
  }
  if (labels.defined()) encoding.labels = labels.to(torch::kCPU, torch::kLong);
  return encoding;
}

std::string encoding_csv(const Encoding& encoding) {
  const int64_t n = encoding.mean.size(0), z = encoding.mean.size(1);
  std::string out = "index,label";
  for (int64_t d = 0; d < z; ++d) out += fmt::format(",mean_{}", d);
  for (int64_t d = 0; d < z; ++d) out += fmt::format(",log_var_{}", d);
  out += '\n';
  const auto mean = encoding.mean.contiguous(), log_var = encoding.log_var.contiguous();
  const float* m = mean.data_ptr<float>();
  const float* v = log_var.data_ptr<float>();
  const bool has_labels = encoding.labels.defined() && encoding.labels.numel() == n;
  const int64_t* label = has_labels ? encoding.labels.contiguous().data_ptr<int64_t>() : nullptr;
  auto buffer = fmt::memory_buffer();
  for (int64_t i = 0; i < n; ++i) {
    fmt::format_to(std::back_inserter(buffer), "{},", i);
    if (has_labels) fmt::format_to(std::back_inserter(buffer), "{}", label[i]);
    for (int64_t d = 0; d < z; ++d) fmt::format_to(std::back_inserter(buffer), ",{:.9g}", m[i * z + d]);
    for (int64_t d = 0; d < z; ++d) fmt::format_to(std::back_inserter(buffer), ",{:.9g}", v[i * z + d]);
    buffer.push_back('\n');
  }
  out.append(buffer.data(), buffer.size());
  return out;
}

bool has_discrete_posterior(LatentVariableModel& model, const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 1, "has_discrete_posterior: expected x [N >= 1, D], got ",
              x.sizes());
  torch::NoGradGuard no_grad;
  const auto proposal = model.proposal(x.narrow(0, 0, 1));
  return proposal != nullptr && proposal->categorical() != nullptr;
}

Responsibilities responsibilities(LatentVariableModel& model, const torch::Tensor& x,
                                  const torch::Tensor& labels, int64_t batch_size) {
  TORCH_CHECK(x.dim() == 2, "responsibilities: expected x [N, D], got ", x.sizes());
  TORCH_CHECK(!labels.defined() || (labels.dim() == 1 && labels.size(0) == x.size(0)),
              "responsibilities: expected labels [", x.size(0), "], got ", labels.sizes());
  TORCH_CHECK(batch_size >= 1, "responsibilities: batch_size must be >= 1, got ", batch_size);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t start = 0; start < x.size(0); start += batch_size) {
    const auto batch = x.slice(0, start, std::min(start + batch_size, x.size(0)));
    const auto proposal = model.proposal(batch);  // keeps the posterior alive
    const Categorical* posterior = proposal == nullptr ? nullptr : proposal->categorical();
    if (posterior == nullptr) {
      throw std::invalid_argument("this " + model.kind() +
                                  " model's posterior is not over a discrete latent (responsibilities are "
                                  "for models such as the Gaussian mixture)");
    }
    parts.push_back(posterior->mean().to(torch::kCPU, torch::kDouble));
  }
  Responsibilities r;
  r.probs = parts.empty() ? torch::empty({0, model.latent_dim()}, torch::kDouble) : torch::cat(parts);
  if (labels.defined()) r.labels = labels.to(torch::kCPU, torch::kLong);
  return r;
}

std::string responsibilities_csv(const Responsibilities& r) {
  const int64_t n = r.probs.size(0), k = r.probs.size(1);
  std::string out = "index,label,component";
  for (int64_t c = 0; c < k; ++c) out += fmt::format(",p_{}", c);
  out += '\n';
  const auto probs = r.probs.contiguous();
  const auto component = n == 0 ? torch::empty({0}, torch::kLong) : probs.argmax(1).contiguous();
  const double* p = probs.data_ptr<double>();
  const int64_t* best = component.data_ptr<int64_t>();
  const bool has_labels = r.labels.defined() && r.labels.numel() == n;
  const auto labels = has_labels ? r.labels.contiguous() : torch::Tensor();
  const int64_t* label = has_labels ? labels.data_ptr<int64_t>() : nullptr;
  auto buffer = fmt::memory_buffer();
  for (int64_t i = 0; i < n; ++i) {
    fmt::format_to(std::back_inserter(buffer), "{},", i);
    if (has_labels && label[i] >= 0) fmt::format_to(std::back_inserter(buffer), "{}", label[i]);
    fmt::format_to(std::back_inserter(buffer), ",{}", best[i]);
    for (int64_t c = 0; c < k; ++c) fmt::format_to(std::back_inserter(buffer), ",{:.17g}", p[i * k + c]);
    buffer.push_back('\n');
  }
  out.append(buffer.data(), buffer.size());
  return out;
}

std::string encode_csv(LatentVariableModel& model, const torch::Tensor& x, const torch::Tensor& labels,
                       int64_t batch_size) {
  if (x.size(0) > 0 && has_discrete_posterior(model, x))
    return responsibilities_csv(responsibilities(model, x, labels, batch_size));
  return encoding_csv(encode(model, x, labels, batch_size));
}

torch::Tensor principal_components(const torch::Tensor& x, int64_t k) {
  TORCH_CHECK(x.dim() == 2, "principal_components: expected x [N, Z], got ", x.sizes());
  TORCH_CHECK(k >= 1 && k <= x.size(1), "principal_components: k must be in [1, ", x.size(1), "], got ", k);
  const auto centred = x.to(torch::kDouble) - x.to(torch::kDouble).mean(0, /*keepdim=*/true);
  // Right singular vectors of the centred data are the principal directions: [Z, Z] rows.
  const auto directions = std::get<2>(at::linalg_svd(centred, /*full_matrices=*/false)).slice(0, 0, k);
  const auto largest = directions.abs().argmax(1, /*keepdim=*/true);
  const auto signs = directions.gather(1, largest).sign();
  return centred.matmul((directions * signs).t()).to(x.scalar_type());
}

torch::Tensor kl_per_dimension(LatentVariableModel& model, const Encoding& encoding) {
  torch::NoGradGuard no_grad;
  const auto prior_distribution = model.prior();  // keeps prior alive
  const Normal* prior = prior_distribution == nullptr ? nullptr : prior_distribution->diagonal_gaussian();
  if (prior == nullptr) {
    throw std::invalid_argument("KL per latent dimension needs a diagonal Gaussian prior; this " +
                                model.kind() + " model has another");
  }
  // An event of size 1 makes the summed KL a per-dimension one: [N, Z, 1] against [Z, 1].
  const Normal q(encoding.mean.to(torch::kDouble).unsqueeze(-1),
                 encoding.log_var.to(torch::kDouble).unsqueeze(-1));
  const Normal p(prior->mean().to(torch::kCPU, torch::kDouble).reshape({-1, 1}),
                 prior->log_var().to(torch::kCPU, torch::kDouble).reshape({-1, 1}));
  return kl_divergence(q, p).mean(0);
}

}  // namespace lvm::represent
