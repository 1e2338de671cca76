// The evaluation protocol as a library (what `lvm eval` runs), on the linear-Gaussian oracle whose
// log p(x) and posterior are closed-form.

#include "lvm/evaluation/evaluation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "lvm/models/linear_gaussian/linear_gaussian.h"
#include "lvm/models/vae/vae.h"
#include "tests/testing.h"

namespace lvm::evaluation {
namespace {

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Evaluation, EveryEstimatorAgainstTheClosedForm) {
  torch::manual_seed(1);
  LinearGaussian model(torch::randn({5, 2}, kDouble), torch::randn({5}, kDouble), 0.8);
  EvaluationData data{torch::randn({30, 5}, kDouble), torch::arange(30)};
  EvaluationOptions options;
  options.k = 2000;
  options.batch_size = 7;  // batches of 7, 7, 7, 7, 2
  options.estimators = {"exact", "iwae", "elbo", "prior"};
  std::vector<int64_t> done;
  const auto report =
      evaluate(model, data, options, 500, [&](int64_t n, const std::string&) { done.push_back(n); });
  EXPECT_EQ(done, (std::vector<int64_t>{7, 14, 21, 28, 30}));
  EXPECT_EQ(report.n, 30);
  const auto exact = report.columns.get("exact");
  EXPECT_TRUE(torch::allclose(exact, model.exact_log_marginal(data.x)->detach(), 0, 1e-12));
  // The proposal is the exact posterior: every importance weight is p(x), so the IWAE estimate and
  // the Monte Carlo ELBO of the same samples equal log p(x), and the ESS is k.
  EXPECT_TRUE(torch::allclose(report.columns.get("iwae"), exact, 0, 1e-9));
  EXPECT_TRUE(torch::allclose(report.columns.get("iwae_ess"), torch::full({30}, 2000.0, kDouble), 0, 1e-6));
  EXPECT_NEAR(report.summaries.at("elbo").mean, report.summaries.at("exact").mean, 1e-9);
  // Prior sampling converges to it too (2000 draws in two latent dimensions).
  EXPECT_NEAR(report.summaries.at("prior").mean, report.summaries.at("exact").mean, 0.1);
  ASSERT_TRUE(report.active_units.has_value());
  EXPECT_EQ(report.active_units->variance.size(0), 2);

  const std::string json = report.to_json(5).dump();
  for (const char* key : {"\"n\": 30", "\"exact\": {", "\"iwae\": {", "\"k\": 2000",
                          "\"bits_per_dim_from\": \"exact\"", "\"active_units\":"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  const std::string table = report.table(5);
  EXPECT_NE(table.find("exact           -"), std::string::npos) << table;
  EXPECT_NE(table.find("bits/dim"), std::string::npos) << table;
  const auto rows = testing::csv_cells(report.per_example_csv(data.labels));
  ASSERT_EQ(rows.size(), 31u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"index", "label", "exact", "iwae", "iwae_ess", "elbo",
                                               "elbo_kl", "elbo_rec", "prior", "prior_ess"}));
  EXPECT_EQ(rows[30][1], "29");
}

TEST(Evaluation, TheSameSeedGivesTheSameNumbers) {
  torch::manual_seed(2);
  LinearGaussian model(torch::randn({4, 3}, kDouble), torch::zeros({4}, kDouble), 1.0);
  EvaluationData data{torch::randn({12, 4}, kDouble), torch::arange(12)};
  EvaluationOptions options;
  options.k = 10;
  options.estimators = {"prior"};
  options.seed = 5;
  const auto a = evaluate(model, data, options, 4).columns.get("prior");
  const auto b = evaluate(model, data, options, 4).columns.get("prior");
  options.seed = 6;
  const auto c = evaluate(model, data, options, 4).columns.get("prior");
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
}

TEST(Evaluation, OptionsAndModelErrorsNameWhatToChange) {
  EXPECT_EQ(parse_estimators(" iwae, elbo ,iwae"), (std::vector<std::string>{"iwae", "elbo"}));
  EXPECT_EQ(message_of([] { parse_estimators("iwae,bogus"); }),
            "--estimators: unknown estimator 'bogus' (expected exact, iwae, prior or elbo)");
  EXPECT_EQ(message_of([] { parse_estimators(" , "); }),
            "--estimators: no estimator given (expected exact, iwae, prior or elbo)");
  EvaluationOptions options;
  options.k = 1000;
  options.chunk = 1000;
  options.max_memory_mib = 1;
  // 1000 samples x 10 examples x 200 B = 1.9 MiB > 1 MiB.
  EXPECT_NE(message_of([&] {
              choose_chunk(options, 10, 200, torch::kCPU);
            }).find("--chunk 1000: one chunk of 1000 samples for each of 10 examples needs about"),
            std::string::npos);
  options.chunk = 0;  // chosen to fit: floor(2^20 / (10 x 200)) = 524 samples
  EXPECT_EQ(choose_chunk(options, 10, 200, torch::kCPU), 524);
  options.k = 0;
  EXPECT_EQ(message_of([&] { validate(options); }), "--k must be >= 1, got 0");

  // A model without a closed form, asked for one.
  Vae vae(VaeOptions(4, 2).encoder_hidden({3}).decoder_hidden({3}));
  EvaluationOptions exact_only;
  exact_only.estimators = {"exact"};
  EXPECT_EQ(message_of([&] {
              evaluate(vae, {torch::zeros({3, 4}), torch::arange(3)}, exact_only, 10);
            }),
            "--estimators exact: model 'vae' has no closed-form log p(x); use iwae, prior or elbo");
}

TEST(Evaluation, SplitsAreBinarisedOnceWithTheirOwnSeed) {
  data::ImageDataset dataset;
  dataset.binarization = data::Binarization::kDynamic;
  torch::manual_seed(4);
  dataset.train.images = torch::rand({20, 6});
  dataset.train.labels = torch::zeros({20}, torch::kLong);
  dataset.test.images = dataset.train.images.clone();
  dataset.test.labels = torch::zeros({20}, torch::kLong);
  dataset.validation.images = torch::empty({0, 6});
  const auto test = evaluation_split(dataset, "test", 0);
  EXPECT_TRUE(torch::equal(test.x, evaluation_split(dataset, "test", 0).x));  // the same draw every time
  EXPECT_TRUE(((test.x == 0) | (test.x == 1)).all().item<bool>());
  // The same images in another split get another fixed draw.
  EXPECT_FALSE(torch::equal(test.x, evaluation_split(dataset, "train", 0).x));
  EXPECT_EQ(evaluation_split(dataset, "test", 5).x.size(0), 5);
  EXPECT_EQ(message_of([&] { evaluation_split(dataset, "validation", 0); }),
            "--split validation: the run has none (data.validation_size: 0)");
  EXPECT_EQ(message_of([&] { evaluation_split(dataset, "holdout", 0); }),
            "--split: unknown split 'holdout' (expected test, validation or train)");
}

}  // namespace
}  // namespace lvm::evaluation
