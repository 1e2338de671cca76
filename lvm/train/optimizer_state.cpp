#include "lvm/train/optimizer_state.h"

#include <memory>
#include <optional>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "lvm/train/checkpoint.h"
#include "lvm/util/torch_compat.h"

namespace lvm::train {
namespace {

// LibTorch's tag for the layout of Optimizer::save, unchanged from 1.5 to 2.x.
constexpr const char* kLayoutVersion = "1.5.0";

// Reads the values of one archive with their types checked, naming `path` and the key path on
// anything else: a corrupt file must not reach IValue's own assertions.
class Reader {
 public:
  Reader(torch::serialize::InputArchive& archive, std::string path, std::string where)
      : archive_(archive), path_(std::move(path)), where_(std::move(where)) {}

  std::optional<c10::IValue> value(const std::string& key) {
    c10::IValue value;
    if (!archive_.try_read(key, value)) return std::nullopt;
    return value;
  }
  c10::IValue required(const std::string& key) {
    auto v = value(key);
    if (!v) fail("'" + key + "' is missing");
    return *v;
  }
  std::string text(const std::string& key) {
    const auto v = required(key);
    if (!v.isString()) fail("'" + key + "' is a " + v.tagKind() + ", not a string");
    return v.toStringRef();
  }
  // Sizes are written as one-element integer tensors by LibTorch.
  int64_t size(const std::string& key) {
    const auto v = required(key);
    if (!v.isTensor() || v.toTensor().numel() != 1 ||
        !c10::isIntegralType(v.toTensor().scalar_type(), /*includeBool=*/false))
      fail("'" + key + "' is not an integer size");
    const int64_t n = v.toTensor().item<int64_t>();
    if (n < 0) fail("'" + key + "' is negative");
    return n;
  }
  torch::Tensor moment(const std::string& key, const torch::Tensor& param) {
    const auto v = required(key);
    if (!v.isTensor()) fail("'" + key + "' is a " + v.tagKind() + ", not a tensor");
    const auto t = v.toTensor();
    if (t.layout() != torch::kStrided || !t.is_floating_point() || t.sizes() != param.sizes()) {
      std::ostringstream message;
      message << "'" << key << "' has shape " << t.sizes() << " (" << t.scalar_type()
              << ") but its parameter " << param.sizes() << " (" << param.scalar_type() << ")";
      fail(message.str());
    }
    return t.to(param.dtype()).contiguous();
  }
  torch::serialize::InputArchive child(const std::string& key) {
    torch::serialize::InputArchive child;
    if (!archive_.try_read(key, child)) fail("'" + key + "' is missing");
    return child;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(path_ + ": optimiser state does not fit this model: " + where_ + what);
  }

 private:
  torch::serialize::InputArchive& archive_;
  std::string path_;
  std::string where_;
};

std::unique_ptr<torch::optim::AdamParamState> read_param_state(torch::serialize::InputArchive& archive,
                                                               const torch::Tensor& param,
                                                               const std::string& path,
                                                               const std::string& where) {
  Reader r(archive, path, where);
  const auto step = r.required("step");
  if (!step.isInt() || step.toInt() < 0) r.fail("'step' is not a non-negative integer");
  auto state = std::make_unique<torch::optim::AdamParamState>();
  state->step(step.toInt());
  state->exp_avg(r.moment("exp_avg", param));
  state->exp_avg_sq(r.moment("exp_avg_sq", param));
  if (r.value("max_exp_avg_sq")) state->max_exp_avg_sq(r.moment("max_exp_avg_sq", param));
  return state;
}

}  // namespace

void save_adam_state(torch::serialize::OutputArchive& archive, torch::optim::Adam& optimizer) {
  archive.write("pytorch_version", c10::IValue(kLayoutVersion));
  torch::serialize::OutputArchive states(archive.compilation_unit());
  torch::serialize::OutputArchive groups(archive.compilation_unit());
  const auto& param_groups = optimizer.param_groups();
  groups.write("param_groups/size", torch::tensor(static_cast<int64_t>(param_groups.size())));
  int64_t position = 0;
  for (size_t g = 0; g < param_groups.size(); ++g) {
    torch::serialize::OutputArchive group(archive.compilation_unit());
    const auto& params = param_groups[g].params();
    group.write("params/size", torch::tensor(static_cast<int64_t>(params.size())));
    for (size_t i = 0; i < params.size(); ++i, ++position) {
      const std::string key = std::to_string(position);
      group.write("params/" + std::to_string(i), c10::IValue(key));
      const auto found = optimizer.state().find(compat::optimizer_state_key(optimizer, params[i]));
      if (found == optimizer.state().end() || !found->second) continue;  // no step taken yet
      torch::serialize::OutputArchive state(archive.compilation_unit());
      static_cast<const torch::optim::AdamParamState&>(*found->second).serialize(state);
      states.write(key, state);
    }
    torch::serialize::OutputArchive options(archive.compilation_unit());
    static_cast<const torch::optim::AdamOptions&>(param_groups[g].options()).serialize(options);
    group.write("options", options);
    groups.write("param_groups/" + std::to_string(g), group);
  }
  archive.write("state", states);
  archive.write("param_groups", groups);
}

void load_adam_state(torch::serialize::InputArchive& archive, torch::optim::Adam& optimizer,
                     const std::string& path) {
  Reader top(archive, path, "");
  if (top.text("pytorch_version") != kLayoutVersion)
    top.fail("unknown layout '" + top.text("pytorch_version") + "' (expected LibTorch's " + kLayoutVersion +
             ")");
  auto states = top.child("state");
  auto groups = top.child("param_groups");
  Reader group_list(groups, path, "param_groups: ");
  const auto& param_groups = optimizer.param_groups();
  if (group_list.size("param_groups/size") != static_cast<int64_t>(param_groups.size()))
    group_list.fail("holds " + std::to_string(group_list.size("param_groups/size")) +
                    " parameter groups, the optimiser " + std::to_string(param_groups.size()));

  // Everything is read and checked before the optimiser's state is replaced.
  std::vector<std::pair<torch::Tensor, std::unique_ptr<torch::optim::AdamParamState>>> loaded;
  for (size_t g = 0; g < param_groups.size(); ++g) {
    auto group_archive = group_list.child("param_groups/" + std::to_string(g));
    Reader group(group_archive, path, "parameter group " + std::to_string(g) + ": ");
    const auto& params = param_groups[g].params();
    if (group.size("params/size") != static_cast<int64_t>(params.size()))
      group.fail("holds " + std::to_string(group.size("params/size")) + " parameters, the model " +
                 std::to_string(params.size()));
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string key = group.text("params/" + std::to_string(i));
      torch::serialize::InputArchive state;
      if (!states.try_read(key, state)) continue;  // never stepped: starts fresh
      const std::string where = "parameter " + std::to_string(i) + " of group " + std::to_string(g) + ": ";
      loaded.emplace_back(params[i], read_param_state(state, params[i], path, where));
    }
  }
  optimizer.state().clear();
  for (auto& [param, state] : loaded) {
    state->exp_avg(state->exp_avg().to(param.device()));
    state->exp_avg_sq(state->exp_avg_sq().to(param.device()));
    if (state->max_exp_avg_sq().defined()) state->max_exp_avg_sq(state->max_exp_avg_sq().to(param.device()));
    optimizer.state()[compat::optimizer_state_key(optimizer, param)] = std::move(state);
  }
}

}  // namespace lvm::train
