#include "lvm/evaluation/evaluation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/estimators/refine.h"
#include "lvm/runtime/memory.h"

namespace lvm::evaluation {
namespace {

namespace est = lvm::estimators;

// Samples x examples per chunk when --chunk is not given: bounds the memory of one chunk (z, its
// log-weights and, for models without a fused likelihood, the [rows, D] likelihood parameters).
constexpr int64_t kChunkRows = 32768;

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The columns of a sharded evaluation made whole on every process: each process's rows placed
// where they belong in zeros [N] and summed over the processes; the timings become the group's
// (the slowest process's seconds, every process's decoder evaluations).
void gather_shards(EvaluationReport& report, const EvaluationShard& shard, int64_t n_batches) {
  Columns whole;
  for (const auto& name : report.columns.names()) {
    const auto mine = report.columns.get(name);
    auto column = torch::zeros({report.n}, torch::kDouble);
    int64_t read = 0;
    for (int64_t batch = shard.rank; batch < n_batches; batch += shard.world_size) {
      const int64_t begin = batch * report.batch_size;
      const int64_t rows = std::min(report.batch_size, report.n - begin);
      column.narrow(0, begin, rows).copy_(mine.narrow(0, read, rows));
      read += rows;
    }
    shard.sum(column);
    whole.add(name, column);
  }
  report.columns = std::move(whole);
  // [seconds of each process..., decoder evaluations per second of each]
  auto timings = torch::zeros({2 * shard.world_size}, torch::kDouble);
  timings[shard.rank] = report.seconds;
  timings[shard.world_size + shard.rank] = report.decoder_evals_per_s;
  shard.sum(timings);
  report.seconds = timings.narrow(0, 0, shard.world_size).max().item<double>();
  report.decoder_evals_per_s = timings.narrow(0, shard.world_size, shard.world_size).sum().item<double>();
}

}  // namespace

const std::vector<std::string>& estimator_names() {
  static const std::vector<std::string> names = {"exact", "iwae", "prior", "elbo"};
  return names;
}

std::vector<std::string> parse_estimators(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream stream(list);
  std::string name;
  while (std::getline(stream, name, ',')) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name.empty()) continue;
    if (!has(estimator_names(), name)) {
      throw std::invalid_argument("--estimators: unknown estimator '" + name +
                                  "' (expected exact, iwae, prior or elbo)");
    }
    if (!has(names, name)) names.push_back(name);
  }
  if (names.empty())
    throw std::invalid_argument("--estimators: no estimator given (expected exact, iwae, prior or elbo)");
  return names;
}

void validate(const EvaluationOptions& o) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (o.k < 1) fail(fmt::format("--k must be >= 1, got {}", o.k));
  if (o.chunk < 0) fail(fmt::format("--chunk must be >= 0 (0: automatic), got {}", o.chunk));
  if (o.batch_size < 1) fail(fmt::format("--batch-size must be >= 1, got {}", o.batch_size));
  if (o.max_memory_mib < 0)
    fail(fmt::format("--max-memory must be >= 0 (0: the memory available), got {}", o.max_memory_mib));
  if (o.refine < 0) fail(fmt::format("--refine must be >= 0, got {}", o.refine));
  if (!(o.refine_lr > 0)) fail(fmt::format("--refine-lr must be > 0, got {}", o.refine_lr));
}

EvaluationData evaluation_split(const data::ImageDataset& dataset, const std::string& split, int64_t limit) {
  const data::Split* source = nullptr;
  int64_t seed = 0;
  if (split == "test") {
    source = &dataset.test;
    seed = data::kTestBinarizationSeed;
  } else if (split == "validation") {
    source = &dataset.validation;
    seed = data::kValidationBinarizationSeed;
    if (source->size() == 0)
      throw std::invalid_argument("--split validation: the run has none (data.validation_size: 0)");
  } else if (split == "train") {
    source = &dataset.train;
    seed = data::kTrainBinarizationSeed;
  } else {
    throw std::invalid_argument("--split: unknown split '" + split +
                                "' (expected test, validation or train)");
  }
  EvaluationData out;
  out.x = data::fixed_binarization(source->images, dataset.binarization, seed);
  out.labels = source->labels;
  if (limit > 0 && limit < out.x.size(0)) {
    out.x = out.x.slice(0, 0, limit);
    out.labels = out.labels.slice(0, 0, limit);
  }
  if (out.x.size(0) == 0) throw std::invalid_argument("--split " + split + ": the split is empty");
  return out;
}

EvaluationData evaluation_split(const data::VectorDataset& dataset, const std::string& split, int64_t limit) {
  if (split != "test" && split != "train") {
    throw std::invalid_argument("--split " + split + ": a vector data set has a test and a train split only");
  }
  EvaluationData out;
  out.x = split == "test" ? dataset.test : dataset.train;
  if (limit > 0 && limit < out.x.size(0)) out.x = out.x.slice(0, 0, limit);
  if (out.x.size(0) == 0) throw std::invalid_argument("--split " + split + ": the split is empty");
  out.labels = torch::full({out.x.size(0)}, -1, torch::kLong);
  return out;
}

int64_t choose_chunk(const EvaluationOptions& o, int64_t batch_size, int64_t row_bytes,
                     torch::Device device) {
  const std::optional<int64_t> budget =
      o.max_memory_mib > 0
          ? std::optional<int64_t>(std::min<int64_t>(o.max_memory_mib, int64_t{1} << 40) << 20)
          : runtime::available_memory(device);
  const std::string budget_text =
      !budget ? ""
      : o.max_memory_mib > 0
          ? fmt::format("the {} allowed by --max-memory {}", runtime::format_bytes(*budget), o.max_memory_mib)
          : fmt::format("the {} of memory available", runtime::format_bytes(*budget));
  const auto need = [&](int64_t chunk) {
    return static_cast<double>(chunk) * static_cast<double>(batch_size) * static_cast<double>(row_bytes);
  };
  if (o.chunk > 0) {
    const int64_t chunk = std::min(o.chunk, o.k);
    if (budget && need(chunk) > static_cast<double>(*budget)) {
      throw std::invalid_argument(fmt::format(
          "--chunk {}: one chunk of {} samples for each of {} examples needs about {} ({} x {} decoder rows "
          "of {} B), more than {}; use a smaller --chunk or --batch-size, or leave --chunk out to pick one "
          "that fits",
          o.chunk, chunk, batch_size, runtime::format_bytes(need(chunk)), chunk, batch_size, row_bytes,
          budget_text));
    }
    return chunk;
  }
  int64_t chunk = std::clamp<int64_t>(kChunkRows / batch_size, 1, o.k);
  if (budget) {
    const int64_t fits = *budget / std::max<int64_t>(1, batch_size * row_bytes);
    if (fits < 1) {
      throw std::invalid_argument(fmt::format(
          "--batch-size {}: even one sample for each of {} examples needs about {}, more than {}; use a "
          "smaller --batch-size",
          o.batch_size, batch_size, runtime::format_bytes(need(1)), budget_text));
    }
    chunk = std::min(chunk, fits);
  }
  return chunk;
}

void Columns::add(const std::string& name, const torch::Tensor& values) {
  if (!has(order_, name)) order_.push_back(name);
  parts_[name].push_back(values.detach().to(torch::kCPU, torch::kDouble));
}

torch::Tensor Columns::get(const std::string& name) const { return torch::cat(parts_.at(name)); }

EvaluationReport evaluate(LatentVariableModel& model, const EvaluationData& data, EvaluationOptions options,
                          int64_t chunk, const BatchCallback& on_batch, const EvaluationShard& shard) {
  validate(options);
  // The gaps compare the ELBOs with the importance-sampled log p(x): both are needed.
  if (options.refine > 0) {
    for (const char* needed : {"iwae", "elbo"})
      if (!has(options.estimators, needed)) options.estimators.push_back(needed);
  }
  const auto& names = options.estimators;
  if (has(names, "exact")) {
    torch::NoGradGuard no_grad;
    if (!model.exact_log_marginal(data.x.slice(0, 0, 1))) {
      throw std::invalid_argument("--estimators exact: model '" + model.kind() +
                                  "' has no closed-form log p(x); use iwae, prior or elbo");
    }
  }
  EvaluationReport report;
  report.n = data.x.size(0);
  report.batch_size = std::min(options.batch_size, report.n);
  if (chunk < 1) throw std::invalid_argument(fmt::format("evaluate: chunk must be >= 1, got {}", chunk));
  report.chunk = std::min(chunk, options.k);
  report.options = options;

  const int64_t n_batches = (report.n + report.batch_size - 1) / report.batch_size;
  if (shard.world_size > 1 && n_batches < shard.world_size) {
    throw std::invalid_argument(
        fmt::format("{} examples in batches of {} make {} batches, fewer than the {} processes: use a "
                    "smaller --batch-size "
                    "or fewer processes",
                    report.n, report.batch_size, n_batches, shard.world_size));
  }
  const est::SamplingOptions sampling(options.k, report.chunk);
  const auto start = Clock::now();
  double sampling_seconds = 0, decoder_evals = 0;
  const auto timed = [&](auto&& f) {
    const auto t0 = Clock::now();
    auto result = f();
    sampling_seconds += seconds_since(t0);
    return result;
  };
  double running_sum = 0;
  Columns& columns = report.columns;
  int64_t done = 0;  // examples this process has evaluated
  for (int64_t batch = shard.rank; batch < n_batches; batch += shard.world_size) {
    const int64_t begin = batch * report.batch_size;
    const auto x = data.x.slice(0, begin, std::min(begin + report.batch_size, report.n));
    // Each batch's own seed: its draws do not depend on which batches came before, or where.
    torch::manual_seed(static_cast<uint64_t>(options.seed) * 1000003u + static_cast<uint64_t>(batch));
    const double b = static_cast<double>(x.size(0));
    if (has(names, "exact")) columns.add("exact", est::exact(model, x).log_px);
    if (has(names, "iwae") || has(names, "elbo")) {
      std::shared_ptr<Distribution> q;
      {
        torch::NoGradGuard no_grad;
        q = model.proposal(x);
      }
      if (q == nullptr) {
        throw std::invalid_argument("--estimators iwae/elbo: model '" + model.kind() +
                                    "' has no proposal q(z|x)");
      }
      // One pass serves both: the ELBO's reconstruction term is averaged over the same k samples.
      const auto is = timed([&] { return est::importance_sampling(model, x, *q, sampling); });
      decoder_evals += b * static_cast<double>(options.k);
      if (has(names, "iwae")) {
        columns.add("iwae", is.log_px);
        columns.add("iwae_ess", is.ess);
        running_sum += is.log_px.sum().item<double>();
      }
      if (has(names, "elbo")) {
        const auto e = est::elbo_from(is, model, *q);
        columns.add("elbo", e.log_px);
        columns.add("elbo_kl", e.kl);
        columns.add("elbo_rec", e.rec);
      }
    }
    if (has(names, "prior")) {
      const auto p = timed([&] { return est::prior_sampling(model, x, sampling); });
      decoder_evals += b * static_cast<double>(options.k);
      columns.add("prior", p.log_px);
      columns.add("prior_ess", p.ess);
    }
    if (options.refine > 0) {
      const auto refined =
          est::refine_proposal(model, x, est::RefineOptions(options.refine).lr(options.refine_lr));
      columns.add("elbo_refined", est::elbo(model, x, refined, sampling).log_px);
    }
    done += x.size(0);
    if (on_batch) {
      on_batch(done, has(names, "iwae") ? fmt::format("iwae {:.2f}", running_sum / static_cast<double>(done))
                                        : std::string());
    }
  }
  report.seconds = seconds_since(start);
  report.decoder_evals_per_s = sampling_seconds > 0 ? decoder_evals / sampling_seconds : 0.0;
  if (shard.world_size > 1) gather_shards(report, shard, n_batches);
  for (const auto& name : names) report.summaries[name] = est::summarize(columns.get(name));
  {
    torch::NoGradGuard no_grad;
    // Active units are a notion of continuous latents: a mixture's z is an index.
    const auto q = model.proposal(data.x.slice(0, 0, 1));
    if (q != nullptr && model.latent_dim() > 0 && q->sample().is_floating_point()) {
      report.active_units = est::active_units(model, data.x, std::max<int64_t>(report.batch_size, 1000),
                                              report.active_unit_threshold);
    }
  }
  return report;
}

namespace {

// bits/dim from the best estimate there is: the exact value, else the IWAE bound ("" if neither).
std::string bits_per_dim_source(const EvaluationReport& r) {
  for (const char* name : {"exact", "iwae"})
    if (r.summaries.count(name)) return name;
  return "";
}

double bits_per_dim(const EvaluationReport& r, const std::string& source, int64_t data_dim) {
  return -r.summaries.at(source).mean / (static_cast<double>(data_dim) * std::log(2.0));
}

struct Gaps {
  estimators::Summary amortisation, approximation;
  double elbo_refined = 0;
};

Gaps gaps_of(const EvaluationReport& r) {
  const auto encoder = r.columns.get("elbo"), refined = r.columns.get("elbo_refined"),
             log_px = r.columns.get("iwae");
  return {estimators::summarize(refined - encoder), estimators::summarize(log_px - refined),
          estimators::summarize(refined).mean};
}

}  // namespace

util::Json EvaluationReport::to_json(int64_t data_dim, util::Json head) const {
  auto entries = util::Json::object();
  for (const auto& name : options.estimators) {
    const auto& summary = summaries.at(name);
    auto entry = util::Json::object();
    if (name != "exact") entry.set("k", options.k);
    entry.set("log_px", summary.mean).set("std_error", summary.std_error);
    if (columns.contains(name + "_ess"))
      entry.set("ess_mean", columns.get(name + "_ess").mean().item<double>());
    if (name == "elbo") {
      entry.set("kl", columns.get("elbo_kl").mean().item<double>())
          .set("rec", columns.get("elbo_rec").mean().item<double>());
    }
    entries.set(name, entry);
  }
  util::Json& json = head;
  json.set("n", n).set("seed", options.seed).set("chunk", chunk).set("batch_size", batch_size);
  json.set("estimators", entries);
  const std::string source = bits_per_dim_source(*this);
  if (!source.empty()) {
    json.set("bits_per_dim", bits_per_dim(*this, source, data_dim)).set("bits_per_dim_from", source);
  }
  if (active_units) {
    json.set("active_units", active_units->count)
        .set("latent_dim", active_units->variance.size(0))
        .set("active_unit_threshold", active_unit_threshold);
    if (!active_units->group_sizes.empty()) {
      auto counts = util::Json::array(), sizes = util::Json::array();
      for (const int64_t n : active_units->group_counts) counts.push(n);
      for (const int64_t n : active_units->group_sizes) sizes.push(n);
      json.set("active_units_per_group", std::move(counts)).set("latent_group_sizes", std::move(sizes));
    }
  }
  if (options.refine > 0) {
    const Gaps g = gaps_of(*this);
    auto gaps = util::Json::object();
    gaps.set("refine_steps", options.refine)
        .set("refine_lr", options.refine_lr)
        .set("elbo_encoder", summaries.at("elbo").mean)
        .set("elbo_refined", g.elbo_refined)
        .set("log_px", summaries.at("iwae").mean)
        .set("amortisation", g.amortisation.mean)
        .set("amortisation_std_error", g.amortisation.std_error)
        .set("approximation", g.approximation.mean)
        .set("approximation_std_error", g.approximation.std_error);
    json.set("gaps", gaps);
  }
  json.set("seconds", seconds).set("decoder_evals_per_s", decoder_evals_per_s);
  return head;
}

std::string EvaluationReport::table(int64_t data_dim) const {
  std::string out = fmt::format("{:<10} {:>6} {:>12} {:>9} {:>10}  {}\n", "estimator", "k", "log p(x)",
                                "s.e.", "ESS mean", "");
  for (const auto& name : options.estimators) {
    const auto& summary = summaries.at(name);
    const std::string k_text = name == "exact" ? "-" : std::to_string(options.k);
    const std::string ess_text = columns.contains(name + "_ess")
                                     ? fmt::format("{:.1f}", columns.get(name + "_ess").mean().item<double>())
                                     : "";
    const std::string extra =
        name == "elbo" ? fmt::format("KL {:.3f}, rec {:.3f}", columns.get("elbo_kl").mean().item<double>(),
                                     columns.get("elbo_rec").mean().item<double>())
                       : "";
    out += fmt::format("{:<10} {:>6} {:>12.3f} {:>9.3f} {:>10}  {}\n", name, k_text, summary.mean,
                       summary.std_error, ess_text, extra);
  }
  const std::string source = bits_per_dim_source(*this);
  if (!source.empty())
    out += fmt::format("bits/dim   {:.4f} (from {})\n", bits_per_dim(*this, source, data_dim), source);
  if (active_units) {
    out += fmt::format("active units {}/{} (Cov_x E_q[z_i] > {})", active_units->count,
                       active_units->variance.size(0), active_unit_threshold);
    for (size_t g = 0; g < active_units->group_sizes.size(); ++g) {
      out += fmt::format("{} z{} {}/{}", g == 0 ? ";" : ",", g + 1, active_units->group_counts[g],
                         active_units->group_sizes[g]);
    }
    out += '\n';
  }
  if (options.refine > 0) {
    const Gaps g = gaps_of(*this);
    out += fmt::format(
        "gaps ({} refine steps): ELBO encoder {:.3f}, ELBO refined {:.3f}, log p(x) {:.3f}\n"
        "  amortisation gap {:.3f} ± {:.3f}, approximation gap {:.3f} ± {:.3f}\n",
        options.refine, summaries.at("elbo").mean, g.elbo_refined, summaries.at("iwae").mean,
        g.amortisation.mean, g.amortisation.std_error, g.approximation.mean, g.approximation.std_error);
  }
  return out;
}

std::string EvaluationReport::per_example_csv(const torch::Tensor& labels) const {
  std::vector<torch::Tensor> values;
  std::string out = "index,label";
  for (const auto& name : columns.names()) {
    out += "," + name;
    values.push_back(columns.get(name));
  }
  out += '\n';
  const auto label = labels.to(torch::kCPU, torch::kLong);
  const auto* label_data = label.data_ptr<int64_t>();
  std::vector<const double*> data;
  for (auto& v : values) data.push_back(v.data_ptr<double>());
  for (int64_t i = 0; i < label.size(0); ++i) {
    out += fmt::format("{},{}", i, label_data[i]);
    for (const auto* column : data) out += fmt::format(",{:.6f}", column[i]);
    out += '\n';
  }
  return out;
}

}  // namespace lvm::evaluation
