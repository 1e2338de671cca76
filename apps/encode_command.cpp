// lvm encode RUN_DIR [--split test] [-o latents.csv]: each example's q(z|x) with its label, as CSV
// for use downstream: the posterior mean and log-variance of a continuous latent, or the posterior
// probabilities of a discrete one (a Gaussian mixture's responsibilities).

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <torch/torch.h>

#include "apps/commands.h"
#include "apps/run_inputs.h"
#include "lvm/represent/encoding.h"
#include "lvm/runtime/runtime.h"
#include "lvm/train/run_dir.h"
#include "lvm/util/files.h"

namespace lvm::app {

namespace {
struct EncodeArgs {
  std::string run_dir;
  std::string output;
  std::string split = "test";
  std::string checkpoint = "best";
  std::string device = "auto";
  std::string data_path;
  int64_t limit = 0;
  int64_t batch_size = 1000;
};
}  // namespace

Command add_encode_command(CLI::App& app) {
  auto args = std::make_shared<EncodeArgs>();
  auto* cmd = app.add_subcommand(
      "encode", "Write each example's posterior (mean and log-variance, or responsibilities) as CSV");
  cmd->footer(
      "Columns: index,label,mean_0..mean_{Z-1},log_var_0..log_var_{Z-1} of a Gaussian q(z|x); for a discrete "
      "latent (a Gaussian mixture) index,label,component,p_0..p_{K-1}, component the most probable. Images "
      "are encoded as the model sees them: binarised once with a fixed seed under dynamic binarisation, as "
      "stored otherwise; a mixture's vectors as stored (splits train and test).");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by lvm train")->required();
  cmd->add_option("-o,--output", args->output, "CSV file to write (default RUN_DIR/latents_<split>.csv)");
  cmd->add_option("--split", args->split, "train, validation or test (default test)");
  cmd->add_option("--checkpoint", args->checkpoint, "best, last, or a path to a .pt file (default best)");
  cmd->add_option("--device", args->device, "auto, cpu, cuda or cuda:N (default auto)");
  cmd->add_option("--data-path,--data", args->data_path,
                  "Data directory (default: data.path of the run's config)");
  cmd->add_option("--limit", args->limit, "Encode only the first N images (default all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", args->batch_size, "Images per forward pass (default 1000)")
      ->check(CLI::PositiveNumber);

  return {cmd, [args]() {
            const std::string output =
                args->output.empty()
                    ? (std::filesystem::path(args->run_dir) / ("latents_" + args->split + ".csv")).string()
                    : args->output;
            if (!args->output.empty()) check_output_path("-o", output);
            runtime::configure_threads(0, 0);
            const auto device = runtime::resolve_device(args->device);
            const auto run = train::load_run(args->run_dir, args->checkpoint, device);
            const auto examples = load_run_examples(run, args->data_path, args->split, args->limit, device);
            if (args->output.empty()) check_output_path("-o", output);
            const bool discrete = represent::has_discrete_posterior(*run.model, examples.x);
            util::write_file_atomic(
                output, represent::encode_csv(*run.model, examples.x, examples.labels, args->batch_size));
            std::cout << fmt::format(
                "wrote {}: {} {} {}, {} each\n", output, examples.x.size(0), args->split,
                is_vector_run(run) ? "points" : "images",
                discrete ? fmt::format("the responsibilities of {} components", run.model->latent_dim())
                         : fmt::format("{}-D posterior mean and log-variance", run.model->latent_dim()));
            return kExitOk;
          }};
}

}  // namespace lvm::app
