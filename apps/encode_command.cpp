// lvm encode RUN_DIR [--split test] [-o latents.csv]: each image's q(z|x) (posterior mean and
// log-variance) with its label, as CSV for use downstream.

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
      "encode", "Write each image's posterior mean and log-variance (with its label) as CSV");
  cmd->footer(
      "Columns: index,label,mean_0..mean_{Z-1},log_var_0..log_var_{Z-1} of q(z|x). Images are encoded as the "
      "model sees them: binarised once with a fixed seed under dynamic binarisation, as stored otherwise.");
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
            require_image_model(run, args->run_dir, "encode");
            const auto dataset = load_run_data(run, args->data_path, device);
            const auto& split = represent::split_by_name(dataset, args->split);
            const int64_t n = args->limit > 0 ? std::min(args->limit, split.size()) : split.size();
            if (args->output.empty()) check_output_path("-o", output);
            const auto images = represent::model_view(split.images, dataset.binarization).narrow(0, 0, n);
            const auto encoding =
                represent::encode(*run.model, images, split.labels.narrow(0, 0, n), args->batch_size);
            util::write_file_atomic(output, represent::encoding_csv(encoding));
            std::cout << fmt::format("wrote {}: {} {} images, {}-D posterior mean and log-variance each\n",
                                     output, n, args->split, run.model->latent_dim());
            return kExitOk;
          }};
}

}  // namespace lvm::app
