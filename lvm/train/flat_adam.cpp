#include "lvm/train/flat_adam.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "lvm/util/cpu_features.h"

#include "lvm/train/gradients.h"
#include "lvm/util/torch_compat.h"

namespace lvm::train {
namespace {

// Elements per task of the parallel loop: below this the thread hand-off costs more than it saves.
constexpr int64_t kGrain = 1 << 15;

// One parameter's step, as float constants in the order torch::optim::Adam applies them.
struct StepConstants {
  float l2;      // weight_decay: grad + l2 · p
  float shrink;  // AdamW: p · shrink first (1 − lr · decoupled decay)
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float sqrt_correction2;  // √(1 − β2^t)
  float eps;
  float minus_step_size;  // −lr / (1 − β1^t)
};

// The update of Adam::step, element by element: m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
// p ← p − lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε).
inline void adam_element(float& p, float g, float& m, float& v, const StepConstants& c) {
  g = g + c.l2 * p;
  p = p * c.shrink;
  m = m * c.beta1 + c.one_minus_beta1 * g;
  v = v * c.beta2 + c.one_minus_beta2 * g * g;
  const float denom = std::sqrt(v) / c.sqrt_correction2 + c.eps;
  p = p + c.minus_step_size * (m / denom);
}

void adam_scalar(float* p, const float* g, float* m, float* v, int64_t n, const StepConstants& c) {
  for (int64_t i = 0; i < n; ++i) adam_element(p[i], g[i], m[i], v[i], c);
}

#ifdef LVM_HAVE_AVX2_KERNEL
__attribute__((target("avx2,fma"))) void adam_avx2(float* p, const float* g, float* m, float* v, int64_t n,
                                                   const StepConstants& c) {
  const __m256 l2 = _mm256_set1_ps(c.l2), shrink = _mm256_set1_ps(c.shrink);
  const __m256 beta1 = _mm256_set1_ps(c.beta1), one_minus_beta1 = _mm256_set1_ps(c.one_minus_beta1);
  const __m256 beta2 = _mm256_set1_ps(c.beta2), one_minus_beta2 = _mm256_set1_ps(c.one_minus_beta2);
  const __m256 sqrt_correction2 = _mm256_set1_ps(c.sqrt_correction2), eps = _mm256_set1_ps(c.eps);
  const __m256 minus_step_size = _mm256_set1_ps(c.minus_step_size);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pi = _mm256_loadu_ps(p + i);
    __m256 gi = _mm256_fmadd_ps(l2, pi, _mm256_loadu_ps(g + i));
    pi = _mm256_mul_ps(pi, shrink);
    const __m256 mi = _mm256_fmadd_ps(one_minus_beta1, gi, _mm256_mul_ps(_mm256_loadu_ps(m + i), beta1));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), beta2),
                                    _mm256_mul_ps(_mm256_mul_ps(one_minus_beta2, gi), gi));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), sqrt_correction2), eps);
    pi = _mm256_fmadd_ps(minus_step_size, _mm256_div_ps(mi, denom), pi);
    _mm256_storeu_ps(p + i, pi);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
  }
  adam_scalar(p + i, g + i, m + i, v + i, n - i, c);
}

#endif

void adam_range(float* p, const float* g, float* m, float* v, int64_t n, const StepConstants& c) {
#ifdef LVM_HAVE_AVX2_KERNEL
  if (util::cpu_has_avx2()) return adam_avx2(p, g, m, v, n, c);
#endif
  adam_scalar(p, g, m, v, n, c);
}

// parameters[i] viewed as its slice of `flat`.
torch::Tensor slice_of(const torch::Tensor& flat, int64_t offset, const torch::Tensor& like) {
  return flat.narrow(0, offset, like.numel()).view(like.sizes());
}

bool points_into(const torch::Tensor& t, const torch::Tensor& flat, int64_t offset) {
  return t.defined() && t.data_ptr<float>() == flat.data_ptr<float>() + offset;
}

}  // namespace

FlatAdam::FlatAdam(const std::vector<torch::Tensor>& parameters, FlatAdamOptions options)
    : torch::optim::Adam(parameters, options.adam),
      decoupled_weight_decay_(options.decoupled_weight_decay),
      parameters_(parameters) {
  fused_ = !options.adam.amsgrad() && !parameters_.empty();
  for (const auto& p : parameters_)
    fused_ =
        fused_ && p.device().is_cpu() && p.scalar_type() == torch::kFloat && p.layout() == torch::kStrided;
  int64_t n = 0;
  for (const auto& p : parameters_) {
    offsets_.push_back(n);
    n += p.numel();
  }
}

bool FlatAdam::adopted() const {
  if (!flat_parameters_.defined()) return false;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& p = parameters_[i];
    if (!points_into(p, flat_parameters_, offsets_[i]) ||
        !points_into(p.grad(), flat_gradients_, offsets_[i]) || !p.is_contiguous() ||
        !p.grad().is_contiguous())
      return false;
    const auto found = state().find(compat::optimizer_state_key(*this, p));
    if (found == state().end()) continue;  // not stepped yet: its flat moments are zeros
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*found->second);
    if (!points_into(s.exp_avg(), flat_exp_avg_, offsets_[i]) ||
        !points_into(s.exp_avg_sq(), flat_exp_avg_sq_, offsets_[i]))
      return false;
  }
  return true;
}

void FlatAdam::adopt() {
  torch::NoGradGuard no_grad;
  const int64_t n = offsets_.back() + parameters_.back().numel();
  const auto options = parameters_.front().options();
  flat_parameters_ = torch::empty({n}, options);
  flat_gradients_ = torch::zeros({n}, options);
  flat_exp_avg_ = torch::zeros({n}, options);
  flat_exp_avg_sq_ = torch::zeros({n}, options);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i];
    const int64_t offset = offsets_[i];
    auto param_slice = slice_of(flat_parameters_, offset, p);
    param_slice.copy_(p);
    p.set_data(param_slice);
    auto grad_slice = slice_of(flat_gradients_, offset, p);
    if (p.grad().defined()) grad_slice.copy_(p.grad());
    p.mutable_grad() = grad_slice;
    const auto found = state().find(compat::optimizer_state_key(*this, p));
    if (found == state().end()) continue;
    auto& s = static_cast<torch::optim::AdamParamState&>(*found->second);
    auto exp_avg = slice_of(flat_exp_avg_, offset, p);
    auto exp_avg_sq = slice_of(flat_exp_avg_sq_, offset, p);
    exp_avg.copy_(s.exp_avg());
    exp_avg_sq.copy_(s.exp_avg_sq());
    s.exp_avg(exp_avg);
    s.exp_avg_sq(exp_avg_sq);
  }
}

void FlatAdam::zero_grad() {
  if (!fused_) {
    // Adam's own zeroing, but in place on every LibTorch (2.x's default would drop the tensors).
    for (auto& p : parameters_)
      if (p.grad().defined()) p.mutable_grad().zero_();
    return;
  }
  if (!adopted()) adopt();
  flat_gradients_.zero_();
}

torch::Tensor FlatAdam::flat_gradient() {
  if (!fused_) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : parameters_)
      grads.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
    return torch::cat(grads);
  }
  if (!adopted()) adopt();
  return flat_gradients_;
}

void FlatAdam::set_flat_gradient(const torch::Tensor& flat) {
  torch::NoGradGuard no_grad;
  if (fused_ && adopted() && flat.is_same(flat_gradients_)) return;
  int64_t offset = 0;
  for (auto& p : parameters_) {
    const auto slice = flat.narrow(0, offset, p.numel()).view_as(p);
    if (p.grad().defined()) {
      p.mutable_grad().copy_(slice);
    } else {
      p.mutable_grad() = slice.clone();
    }
    offset += p.numel();
  }
}

torch::Tensor FlatAdam::gradient_norm() {
  if (!fused_) return train::gradient_norm(parameters_);
  return flat_gradient().norm().to(torch::kDouble);
}

void FlatAdam::clip_gradients(double norm, double max_norm) {
  if (!fused_) return clip_gradient_norm(parameters_, norm, max_norm);
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1) flat_gradient().mul_(scale);
}

torch::Tensor FlatAdam::step(LossClosure closure) {
  if (!fused_) {
    if (decoupled_weight_decay_ != 0) {
      torch::NoGradGuard no_grad;
      const double lr = static_cast<const torch::optim::AdamOptions&>(param_groups().front().options()).lr();
      for (auto& p : parameters_)
        if (p.grad().defined()) p.mul_(1 - lr * decoupled_weight_decay_);
    }
    return torch::optim::Adam::step(std::move(closure));
  }
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!adopted()) adopt();
  fused_step();
  return loss;
}

void FlatAdam::fused_step() {
  const auto& options = static_cast<const torch::optim::AdamOptions&>(param_groups().front().options());
  const double lr = options.lr();
  const auto [beta1, beta2] = options.betas();
  float* p_all = flat_parameters_.data_ptr<float>();
  const float* g_all = flat_gradients_.data_ptr<float>();
  float* m_all = flat_exp_avg_.data_ptr<float>();
  float* v_all = flat_exp_avg_sq_.data_ptr<float>();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const auto& p = parameters_[i];
    const int64_t offset = offsets_[i];
    auto& slot = state()[compat::optimizer_state_key(*this, p)];
    if (!slot) {
      auto fresh = std::make_unique<torch::optim::AdamParamState>();
      fresh->exp_avg(slice_of(flat_exp_avg_, offset, p).zero_());
      fresh->exp_avg_sq(slice_of(flat_exp_avg_sq_, offset, p).zero_());
      slot = std::move(fresh);
    }
    auto& s = static_cast<torch::optim::AdamParamState&>(*slot);
    s.step(s.step() + 1);
    // Each parameter its own step count, as in Adam (a checkpoint may hold states of different ages).
    const double correction1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
    const double correction2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
    const StepConstants c{static_cast<float>(options.weight_decay()),
                          static_cast<float>(1 - lr * decoupled_weight_decay_),
                          static_cast<float>(beta1),
                          static_cast<float>(1 - beta1),
                          static_cast<float>(beta2),
                          static_cast<float>(1 - beta2),
                          static_cast<float>(std::sqrt(correction2)),
                          static_cast<float>(options.eps()),
                          static_cast<float>(-lr / correction1)};
    at::parallel_for(0, p.numel(), kGrain, [&](int64_t begin, int64_t end) {
      adam_range(p_all + offset + begin, g_all + offset + begin, m_all + offset + begin,
                 v_all + offset + begin, end - begin, c);
    });
  }
}

}  // namespace lvm::train
